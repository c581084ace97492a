// ThreadSanitizer support for Debian's prebuilt Abseil (TSan builds only: make test-tsan).
//
// libabsl_synchronization.so is not instrumented, so TSan cannot see absl::Mutex hand memory from
// one thread to the next and would report every ABSL_GUARDED_BY member as racy. This file, linked
// into each executable of a TSan build, interposes the Mutex and CondVar entry points: each calls
// the library's own function (dlsym RTLD_NEXT) and tells TSan about the acquire/release, so real
// races are still found and correctly locked code is quiet.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

template <typename F>
F Next(const char* symbol) {
  void* f = dlsym(RTLD_NEXT, symbol);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_shim: %s not found\n", symbol);
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

using MuFn = void (*)(absl::Mutex*);
using MuBoolFn = bool (*)(absl::Mutex*);
using MuCondFn = void (*)(absl::Mutex*, const absl::Condition&);
using MuCondDurFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using CvFn = void (*)(absl::CondVar*, absl::Mutex*);
using CvDurFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto f = Next<MuFn>("_ZN4absl7debian35Mutex4LockEv");
  f(this);
  __tsan_acquire(this);
}
void Mutex::Unlock() {
  static const auto f = Next<MuFn>("_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_release(this);
  f(this);
}
void Mutex::ReaderLock() {
  static const auto f = Next<MuFn>("_ZN4absl7debian35Mutex10ReaderLockEv");
  f(this);
  __tsan_acquire(this);
}
void Mutex::ReaderUnlock() {
  static const auto f = Next<MuFn>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_release(this);
  f(this);
}
bool Mutex::TryLock() {
  static const auto f = Next<MuBoolFn>("_ZN4absl7debian35Mutex7TryLockEv");
  const bool locked = f(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
void Mutex::Await(const Condition& cond) {
  static const auto f = Next<MuCondFn>("_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  f(this, cond);
  __tsan_acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto f =
      Next<MuCondDurFn>("_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool r = f(this, cond, timeout);
  __tsan_acquire(this);
  return r;
}
void Mutex::LockWhen(const Condition& cond) {
  static const auto f = Next<MuCondFn>("_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  f(this, cond);
  __tsan_acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto f = Next<MuCondDurFn>(
      "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool r = f(this, cond, timeout);
  __tsan_acquire(this);
  return r;
}
void CondVar::Wait(Mutex* mu) {
  static const auto f = Next<CvFn>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  f(this, mu);
  __tsan_acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto f =
      Next<CvDurFn>("_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool r = f(this, mu, timeout);
  __tsan_acquire(mu);
  return r;
}

ABSL_NAMESPACE_END
}  // namespace absl
