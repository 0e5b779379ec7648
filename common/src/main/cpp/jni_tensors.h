// The JNI side of the native kernels, shared by their source files: DJL's tensor handles (a PtNDArray
// handle is a heap-allocated torch::Tensor*, as in DJL's bridge) and errors raised as DJL's
// EngineException with ATen's message (no C++ backtrace), as DJL's own are.
#pragma once

#include <jni.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <utility>

namespace orthoslice::jni {

inline at::Tensor& tensor(jlong handle) { return *reinterpret_cast<at::Tensor*>(handle); }

// A new handle owning t, for DJL to wrap (and free when the array closes).
inline jlong release(at::Tensor t) {
  return static_cast<jlong>(reinterpret_cast<uintptr_t>(new at::Tensor(std::move(t))));
}

// New handles for the tensors as a Java long[]; null (with an OutOfMemoryError pending) when the
// array cannot be made, in which case no handle was allocated.
inline jlongArray releaseAll(JNIEnv* env, std::initializer_list<at::Tensor> ts) {
  jlongArray out = env->NewLongArray(static_cast<jsize>(ts.size()));
  if (out == nullptr) {
    return nullptr;
  }
  jsize i = 0;
  for (const at::Tensor& t : ts) {
    const jlong h = release(t);
    env->SetLongArrayRegion(out, i++, 1, &h);
  }
  return out;
}

inline void raise(JNIEnv* env, const char* what) {
  jclass type = env->FindClass("ai/djl/engine/EngineException");
  if (type == nullptr) {  // FindClass left a NoClassDefFoundError pending: that reaches Java instead
    return;
  }
  env->ThrowNew(type, what);
}

}  // namespace orthoslice::jni

#define ORTHOSLICE_JNI_BEGIN try {
#define ORTHOSLICE_JNI_END(failed)                           \
  }                                                          \
  catch (const c10::Error& e) {                              \
    orthoslice::jni::raise(env, e.what_without_backtrace()); \
    return failed;                                           \
  }                                                          \
  catch (const std::exception& e) {                          \
    orthoslice::jni::raise(env, e.what());                   \
    return failed;                                           \
  }
