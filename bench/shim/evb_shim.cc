/* SPDX-License-Identifier: Apache-2.0 */
// evb shim: registers the C benchmarks of bench/ with Google Benchmark and
// exposes the running State to C (evb.h). The only C++ in the project.
//
// One direction of calls: main is C (evb_main.c) and calls in here; this
// file calls no C function by name, only the pointers of each evb_bench.
//
// Kept to the API of Google Benchmark 1.7.1 (Debian bookworm), which 1.8.x
// (the GPU machine) still has: RegisterBenchmark with a lambda, Setup and
// Teardown as plain function pointers, AddCustomContext, KeepRunningBatch.

#include "evb.h"

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace {

// A reusable barrier for evb_sync: generation counting, so a fast thread
// re-entering for the next sync cannot slip through the previous one.
class Barrier {
 public:
  void reset(int n) {
    std::lock_guard<std::mutex> lk(mu_);
    n_ = n;
    waiting_ = 0;
    generation_ = 0;
  }
  void wait() {
    std::unique_lock<std::mutex> lk(mu_);
    const unsigned long gen = generation_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lk, [&] { return generation_ != gen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 1;
  int waiting_ = 0;
  unsigned long generation_ = 0;
};

// One registered benchmark. Google Benchmark runs one benchmark instance at
// a time, so one evb_run per slot is enough (setup fills it before the
// threads start, teardown empties it after they joined).
struct Slot {
  evb_bench bench{};
  std::string name;
  evb_run run{};
  int setup_rc = 0;
  Barrier barrier;
  // The runs of one instance (one thread count: its iteration-count trials,
  // then its repetitions) come back to back. Google Benchmark releases
  // without the fix of google/benchmark PR 2199 crash computing repetition
  // aggregates when the first repetition failed and two later ones succeeded
  // (google/benchmark#1406; Debian 12's 1.7.1 does). So once a run of an
  // instance fails, its later runs are failed too, without running.
  int instance_threads = -1;
  bool instance_failed = false;
  std::atomic<bool> failed{false};  // the current run reported an error
  std::mutex failure_mu;            // guards failure (threads fail at once)
  std::string failure;              // the current run's first error message
};

// 1, 2, 4, 8, 16 and 2 x the online CPUs, sorted, without duplicates.
const std::vector<int> &default_threads() {
  static const std::vector<int> list = [] {
    std::vector<int> v = {1, 2, 4, 8, 16, 2 * evb_cpu_count()};
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return list;
}

std::vector<std::unique_ptr<Slot>> &slots() {
  static std::vector<std::unique_ptr<Slot>> s;
  return s;
}

void run_setup(size_t index, const benchmark::State &st) {
  Slot &s = *slots()[index];
  if (s.instance_threads != static_cast<int>(st.threads())) {
    s.instance_threads = static_cast<int>(st.threads());
    s.instance_failed = false;
  }
  s.failed = false;
  std::string earlier = s.failure;
  s.failure.clear();
  s.run = evb_run{};
  s.run.bench = &s.bench;
  s.run.threads = st.threads();
  s.barrier.reset(st.threads());
  if (s.instance_failed) {
    s.setup_rc = -1;
    // The earlier message first, so that readers still see why ("did not
    // finish", "no GPU").
    std::snprintf(s.run.error, sizeof s.run.error, "%s [not run again: google/benchmark#1406]",
                  earlier.c_str());
    s.failure = earlier;
    return;
  }
  s.setup_rc = s.bench.setup ? s.bench.setup(&s.run) : 0;
  if (s.setup_rc != 0 && s.run.error[0] == '\0')
    std::snprintf(s.run.error, sizeof s.run.error, "setup failed (%d)", s.setup_rc);
}

void run_teardown(size_t index, const benchmark::State &) {
  Slot &s = *slots()[index];
  if (s.bench.teardown && !s.instance_failed) s.bench.teardown(&s.run);  // else setup did not run
  s.run.ctx = nullptr;
  if (s.failed || s.setup_rc != 0) s.instance_failed = true;
  if (s.setup_rc != 0 && s.failure.empty()) s.failure = s.run.error;
}

// Setup/Teardown take plain function pointers without user data (1.7.1),
// so each slot gets its own pair of instantiated trampolines.
constexpr size_t kMaxBenches = 128;

template <size_t I>
void setup_trampoline(const benchmark::State &st) { run_setup(I, st); }
template <size_t I>
void teardown_trampoline(const benchmark::State &st) { run_teardown(I, st); }

using Hook = void (*)(const benchmark::State &);
template <size_t... I>
constexpr std::pair<Hook, Hook> hooks_for(size_t i, std::index_sequence<I...>) {
  constexpr Hook setups[] = {&setup_trampoline<I>...};
  constexpr Hook teardowns[] = {&teardown_trampoline<I>...};
  return {setups[i], teardowns[i]};
}

}  // namespace

// The C handle: one per benchmark thread, on that thread's stack.
struct evb_state {
  benchmark::State *st;
  Slot *slot;
};

extern "C" {

int evb_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

void evb_register(const evb_bench *b) {
  size_t index = slots().size();
  if (index >= kMaxBenches) {
    std::fprintf(stderr, "evb: more than %zu benchmarks; raise kMaxBenches\n", kMaxBenches);
    std::abort();
  }
  slots().emplace_back(new Slot);
  Slot *slot = slots().back().get();
  slot->bench = *b;
  slot->name = b->name;
  slot->bench.name = slot->name.c_str();

  benchmark::internal::Benchmark *bm = benchmark::RegisterBenchmark(
      slot->name.c_str(), [slot](benchmark::State &st) {
        evb_state es{&st, slot};
        if (slot->setup_rc != 0) {
          // Every thread reports the setup failure and still walks the loop:
          // Google Benchmark's start/stop barriers count every thread.
          slot->failed = true;
          st.SkipWithError(slot->run.error);
          while (st.KeepRunning()) {
          }
          return;
        }
        slot->bench.fn(&es);
      });
  auto hooks = hooks_for(index, std::make_index_sequence<kMaxBenches>{});
  bm->Setup(hooks.first)->Teardown(hooks.second)->Unit(benchmark::kNanosecond);
  if (b->real_time) bm->UseRealTime();
  if (b->threads) {
    for (const int *t = b->threads; *t > 0; ++t) bm->Threads(*t);
  } else {
    for (int t : default_threads()) bm->Threads(t);
  }
}

bool evb_keep_running_batch(evb_state *st, uint64_t n) {
  return st->st->KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
}

int evb_thread_index(const evb_state *st) { return static_cast<int>(st->st->thread_index()); }
void *evb_ctx(const evb_state *st) { return st->slot->run.ctx; }
void evb_sync(evb_state *st) { st->slot->barrier.wait(); }

void evb_counter_set(evb_state *st, const char *name, double value, int flags) {
  int f = benchmark::Counter::kDefaults;
  if (flags & EVB_COUNTER_RATE) f |= benchmark::Counter::kIsRate;
  if (flags & EVB_COUNTER_AVG_THREADS) f |= benchmark::Counter::kAvgThreads;
  st->st->counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f));
}

void evb_label_set(evb_state *st, const char *label) { st->st->SetLabel(label); }

void evb_skip_with_error(evb_state *st, const char *msg) {
  {
    std::lock_guard<std::mutex> lock(st->slot->failure_mu);
    if (st->slot->failure.empty()) st->slot->failure = msg;
  }
  st->slot->failed = true;
  if (!st->st->error_occurred()) st->st->SkipWithError(msg);
}

}  // extern "C"

namespace {

// EVB_MIN_TIME (seconds) becomes --benchmark_min_time in the spelling of the
// library built against: 1.7.1 takes only a plain number, 1.8 wants a unit
// ("0.02s") and warns once per benchmark without one. (MinTime() on each
// benchmark would do too, but puts "/min_time:0.020" into every name.)
std::string min_time_flag() {
  const char *mt = std::getenv("EVB_MIN_TIME");
  if (!mt || !*mt) return "";
  char *end = nullptr;
  double s = std::strtod(mt, &end);
  if (end == mt || *end != '\0' || s <= 0) {
    std::fprintf(stderr, "evb: EVB_MIN_TIME=%s is not a positive number of seconds; ignored\n", mt);
    return "";
  }
  int major = 0, minor = 0;
  std::sscanf(EVB_BENCHMARK_VERSION, "%d.%d", &major, &minor);
  bool wants_unit = major > 1 || (major == 1 && minor >= 8);
  return std::string("--benchmark_min_time=") + mt + (wants_unit ? "s" : "");
}

}  // namespace

extern "C" {

int evb_initialize(int argc, char **argv) {
  // The flag goes first, so one given on the command line still wins.
  // Both live until exit: Google Benchmark keeps pointers into argv.
  static std::string min_time = min_time_flag();
  static std::vector<char *> args;
  args.assign(argv, argv + argc);
  if (!min_time.empty()) args.insert(args.begin() + 1, &min_time[0]);
  args.push_back(nullptr);
  int n = static_cast<int>(args.size()) - 1;
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  return 0;
}

void evb_add_context(const char *key, const char *value) {
  benchmark::AddCustomContext(key, value);
}

void evb_run_benchmarks(void) {
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}

}  // extern "C"
