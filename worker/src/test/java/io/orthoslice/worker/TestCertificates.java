package io.orthoslice.worker;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away CA and a server certificate it signed (for localhost and 127.0.0.1), made with
 * BouncyCastle for the TLS tests: {@code ca.pem}, {@code server.pem} and {@code server.key}
 * (PKCS#8, as --tls-key wants) in a directory.
 */
final class TestCertificates {

  final Path ca;
  final Path cert;
  final Path key;

  private TestCertificates(Path ca, Path cert, Path key) {
    this.ca = ca;
    this.cert = cert;
    this.key = key;
  }

  static TestCertificates create(Path dir) throws Exception {
    Files.createDirectories(dir);
    KeyPair caKeys = ecKeys();
    X500Name caName = new X500Name("CN=Orthoslice Test CA");
    X509CertificateHolder caCert = sign(new JcaX509v3CertificateBuilder(caName, BigInteger.ONE, from(), until(),
        caName, caKeys.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign)), caKeys);
    KeyPair serverKeys = ecKeys();
    X509CertificateHolder serverCert = sign(new JcaX509v3CertificateBuilder(caName, BigInteger.TWO, from(), until(),
        new X500Name("CN=localhost"), serverKeys.getPublic())
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
        .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.dNSName, "localhost"),
            new GeneralName(GeneralName.iPAddress, "127.0.0.1")})), caKeys);
    TestCertificates t = new TestCertificates(dir.resolve("ca.pem"), dir.resolve("server.pem"),
        dir.resolve("server.key"));
    pem(t.ca, "CERTIFICATE", caCert.getEncoded());
    pem(t.cert, "CERTIFICATE", serverCert.getEncoded());
    PrivateKey k = serverKeys.getPrivate();
    pem(t.key, "PRIVATE KEY", k.getEncoded()); // the JDK encodes private keys as PKCS#8
    return t;
  }

  private static KeyPair ecKeys() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static X509CertificateHolder sign(X509v3CertificateBuilder b, KeyPair issuer) throws Exception {
    return b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuer.getPrivate()));
  }

  private static Date from() {
    return Date.from(Instant.now().minus(1, ChronoUnit.DAYS));
  }

  private static Date until() {
    return Date.from(Instant.now().plus(1, ChronoUnit.DAYS));
  }

  private static void pem(Path file, String type, byte[] der) throws IOException {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    Files.writeString(file, "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n");
  }
}
