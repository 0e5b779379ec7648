package io.orthoslice.worker.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The architecture's rules (STYLE.md "For Orthoslice"), checked on the compiled main classes of
 * every module: the math imports neither gRPC nor the generated protocol nor the metrics registry,
 * the coordinator and the worker never import each other, common imports neither of them. The last
 * test shows each rule fails on a planted violation.
 */
class ArchitectureTest {

  /** The math, model, training, per-parameter method and configuration packages of common. */
  static final String[] PURE = {"io.orthoslice.common.projection..", "io.orthoslice.common.optim..",
      "io.orthoslice.common.round..", "io.orthoslice.common.model..", "io.orthoslice.common.quant..",
      "io.orthoslice.common.train..", "io.orthoslice.common.method..", "io.orthoslice.common.config.."};

  /** Where a class of a module's test jar lives (common's is on this module's test class path). */
  private static final Pattern TEST_JAR = Pattern.compile(".*-tests\\.jar!/.*");

  static JavaClasses main;

  @BeforeAll
  static void importMainClasses() {
    // common and the coordinator are jars on this module's test class path: they are imported too,
    // and so is common's test jar, which ArchUnit's DO_NOT_INCLUDE_TESTS (test-classes folders) lets in.
    main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .withImportOption(ArchitectureTest::notATestJar)
        .importPackages("io.orthoslice.common", "io.orthoslice.coordinator", "io.orthoslice.worker");
  }

  private static boolean notATestJar(Location location) {
    return !location.matches(TEST_JAR);
  }

  static List<ArchRule> rules() {
    return List.of(
        noClasses().that().resideInAnyPackage(PURE).should().dependOnClassesThat()
            .resideInAnyPackage("io.grpc..", "io.orthoslice.proto..", "io.micrometer..")
            .because("the math is tested without a network or a registry (STYLE.md)"),
        noClasses().that().resideInAPackage("io.orthoslice.coordinator..").should().dependOnClassesThat()
            .resideInAPackage("io.orthoslice.worker..").because("the roles share only proto and common"),
        noClasses().that().resideInAPackage("io.orthoslice.worker..").should().dependOnClassesThat()
            .resideInAPackage("io.orthoslice.coordinator..").because("the roles share only proto and common"),
        noClasses().that().resideInAPackage("io.orthoslice.common..").should().dependOnClassesThat()
            .resideInAnyPackage("io.orthoslice.coordinator..", "io.orthoslice.worker..")
            .because("common serves both roles"),
        slices().matching("io.orthoslice.(**)").should().beFreeOfCycles()
            .because("the import graph runs one way: no package imports one that imports it back"),
        noClasses().that().haveFullyQualifiedName("io.orthoslice.worker.Worker").or()
            .haveFullyQualifiedName("io.orthoslice.worker.LocalTraining").should().dependOnClassesThat()
            .resideInAnyPackage("io.grpc..", "io.orthoslice.proto..")
            .because("the worker's round loop talks to a RoundClient in its own terms, not to gRPC"),
        noClasses().that().resideInAPackage("io.orthoslice.coordinator").should().dependOnClassesThat()
            .resideInAnyPackage("io.grpc..", "io.orthoslice.proto..")
            .because("the round core is plain Java; coordinator.grpc is its only gRPC edge (STYLE.md habit 3)"),
        noClasses().that().resideInAPackage("io.orthoslice.common..")
            .and().doNotHaveSimpleName("TensorCodec").and().doNotHaveSimpleName("TensorAssembler")
            .and().doNotHaveSimpleName("WireDType").and().doNotHaveSimpleName("WireMessages")
            .should().dependOnClassesThat().resideInAnyPackage("io.grpc..", "io.orthoslice.proto..")
            .because("the protocol's records translate to generated messages in one place (wire)"),
        noClasses().that().haveNameNotMatching(
                "io\\.orthoslice\\.common\\.data\\.(ParquetDocuments|ParquetCodecs|ZstdDecoding)(\\$.*)?")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.parquet..", "org.apache.hadoop..",
                "com.github.luben..", "org.xerial.snappy..")
            .because("training runs on a class path without prepare-data's format libraries (issue 31)"));
  }

  @Test
  void theMainClassesKeepEveryRule() {
    assertTrue(main.size() > 150, "imported only " + main.size() + " classes");
    assertTrue(main.contain("io.orthoslice.coordinator.Coordinator"), "the coordinator's classes were not imported");
    assertFalse(main.contain("io.orthoslice.common.train.GpuTrainingTest"), "common's test jar was imported");
    for (ArchRule rule : rules()) {
      rule.check(main);
    }
  }

  @Test
  void aPlantedPackageCycleBreaksTheCycleRule() {
    // io.orthoslice.worker.architecture.planted.cyclea and .cycleb (test sources) import each other.
    JavaClasses planted = new ClassFileImporter().importPackages("io.orthoslice.worker.architecture.planted");
    ArchRule cycles = rules().get(4);
    assertTrue(cycles.evaluate(planted).hasViolation(), "the planted package cycle was not caught");
    assertFalse(cycles.evaluate(new ClassFileImporter().importPackages(
        "io.orthoslice.worker.architecture.planted.cyclea")).hasViolation());
  }

  @Test
  void aPlantedViolationBreaksTheRule() {
    // io.orthoslice.common.round.planted.UsesGrpc (test sources) calls io.grpc.Status from a math package.
    JavaClasses planted = new ClassFileImporter().importPackages("io.orthoslice.common.round.planted");
    EvaluationResult r = rules().get(0).evaluate(planted);
    assertTrue(r.hasViolation(), "the planted gRPC use in a round package was not caught");
    assertFalse(rules().get(0).evaluate(new ClassFileImporter().withImportOption(
        ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("io.orthoslice.common.round")).hasViolation());
  }
}
