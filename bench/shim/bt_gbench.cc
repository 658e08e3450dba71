// The C shim over Google benchmark (see bt_gbench.h); the only C++ in backtune.
#include "bt_gbench.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

using Run = benchmark::BenchmarkReporter::Run;

benchmark::State &as_state(bt_gbench_state *st) {
    return *reinterpret_cast<benchmark::State *>(st);
}
const benchmark::State &as_state(const bt_gbench_state *st) {
    return *reinterpret_cast<const benchmark::State *>(st);
}

// Registered names -> user data, so the report hook gets back what was registered.
std::unordered_map<std::string, void *> &registered() {
    static std::unordered_map<std::string, void *> names;
    return names;
}

// --benchmark_out / --benchmark_out_format as given to bt_gbench_initialize. Google benchmark
// keeps its flags private, and a file reporter of our own has to match them.
std::string out_file, out_format = "json";

void scan_out_flags(int argc, char **argv) {
    static const char out_flag[] = "--benchmark_out=", format_flag[] = "--benchmark_out_format=";
    for (int i = 1; i < argc; i++) {
        if (!std::strncmp(argv[i], out_flag, sizeof out_flag - 1))
            out_file = argv[i] + sizeof out_flag - 1;
        else if (!std::strncmp(argv[i], format_flag, sizeof format_flag - 1))
            out_format = argv[i] + sizeof format_flag - 1;
    }
}

// Runs pass through the hook once, however many reporters see them: the display and the
// file reporter get the same vectors one after the other (and the display may get only the
// aggregates), so processed vectors are remembered by identity for a short while.
class run_filter {
  public:
    run_filter(bt_gbench_report_fn hook, void *ctx) : hook_(hook), ctx_(ctx) {}

    const std::vector<Run> &process(const std::vector<Run> &runs) {
        for (const entry &e : recent_)
            if (e.source == &runs && e.first_name == first_name(runs) && e.size == runs.size())
                return e.kept;
        entry e{&runs, first_name(runs), runs.size(), {}};
        for (const Run &r : runs) {
            Run copy = r;
            if (keep(copy)) e.kept.push_back(std::move(copy));
        }
        recent_.push_back(std::move(e));
        if (recent_.size() > 4) recent_.pop_front();
        return recent_.back().kept;
    }

  private:
    struct entry {
        const std::vector<Run> *source;
        std::string first_name;
        size_t size;
        std::vector<Run> kept;
    };
    static std::string first_name(const std::vector<Run> &runs) {
        return runs.empty() ? std::string() : runs.front().benchmark_name();
    }

    bool keep(Run &r) {
        if (!hook_) return true;
        const std::string &name = r.run_name.function_name;
        auto it = registered().find(name);
        bt_gbench_run view;
        view.name = name.c_str();
        view.user = it == registered().end() ? nullptr : it->second;
        view.is_aggregate = r.run_type == Run::RT_Aggregate;
        view.aggregate_name = r.aggregate_name.c_str();
        view.skipped = r.error_occurred;
        view.skip_reason = r.error_message.c_str();
        view.iterations = static_cast<int64_t>(r.iterations);
        // As the reporters print it: per iteration, or the aggregate's statistic.
        view.real_seconds = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
        view.cpu_seconds = r.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
        view.repetition_index = r.repetition_index;
        view.impl_ = &r;
        return hook_(&view, ctx_) != 0;
    }

    bt_gbench_report_fn hook_;
    void *ctx_;
    std::deque<entry> recent_;
};

// A reporter that filters runs through the hook, then hands them to the reporter Google
// benchmark would have used.
class filtering_reporter : public benchmark::BenchmarkReporter {
  public:
    filtering_reporter(benchmark::BenchmarkReporter *inner, run_filter *filter)
        : inner_(inner), filter_(filter) {}

    bool ReportContext(const Context &context) override {
        // Google benchmark set our streams (the --benchmark_out file for the file reporter);
        // the inner reporter writes there.
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(context);
    }
    void ReportRuns(const std::vector<Run> &runs) override {
        const std::vector<Run> &kept = filter_->process(runs);
        if (!kept.empty()) inner_->ReportRuns(kept);
    }
    void Finalize() override { inner_->Finalize(); }

  private:
    benchmark::BenchmarkReporter *inner_;
    run_filter *filter_;
};

std::unique_ptr<benchmark::BenchmarkReporter> make_file_reporter() {
    // Deprecated in 1.7 but still what --benchmark_out_format=csv selects.
    BENCHMARK_DISABLE_DEPRECATED_WARNING
    if (out_format == "csv") return std::make_unique<benchmark::CSVReporter>();
    BENCHMARK_RESTORE_DEPRECATED_WARNING
    if (out_format == "console")
        return std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
    return std::make_unique<benchmark::JSONReporter>();
}

} // namespace

extern "C" {

void bt_gbench_initialize(int *argc, char **argv) {
    scan_out_flags(*argc, argv);
    benchmark::Initialize(argc, argv);
}

int bt_gbench_report_unrecognized(int argc, char **argv) {
    return benchmark::ReportUnrecognizedArguments(argc, argv) ? 1 : 0;
}

int bt_gbench_register(const char *name, bt_gbench_fn fn, void *user) {
    if (!name || !fn || !registered().emplace(name, user).second) return -1;
    benchmark::RegisterBenchmark(
        name,
        [fn, user](benchmark::State &st) { fn(reinterpret_cast<bt_gbench_state *>(&st), user); })
        ->UseRealTime() // one benchmark thread: the default
        ->Unit(benchmark::kMicrosecond);
    return 0;
}

void bt_gbench_add_context(const char *key, const char *value) {
    benchmark::AddCustomContext(key ? key : "", value ? value : "");
}

int bt_gbench_run_counter(const bt_gbench_run *run, const char *name, double *value) {
    const Run &r = *static_cast<const Run *>(run->impl_);
    auto it = r.counters.find(name);
    if (it == r.counters.end()) return -1;
    *value = it->second.value;
    return 0;
}

void bt_gbench_run_set_counter(bt_gbench_run *run, const char *name, double value) {
    Run &r = *static_cast<Run *>(run->impl_);
    r.counters[name] = benchmark::Counter(value);
}

size_t bt_gbench_run_specified(bt_gbench_report_fn hook, void *ctx) {
    run_filter filter(hook, ctx);
    // The default display reporter follows --benchmark_format and belongs to the library.
    filtering_reporter display(benchmark::CreateDefaultDisplayReporter(), &filter);
    if (out_file.empty()) return benchmark::RunSpecifiedBenchmarks(&display);
    std::unique_ptr<benchmark::BenchmarkReporter> file_inner = make_file_reporter();
    filtering_reporter file(file_inner.get(), &filter);
    return benchmark::RunSpecifiedBenchmarks(&display, &file);
}

void bt_gbench_shutdown(void) {
    benchmark::ClearRegisteredBenchmarks();
    registered().clear();
    benchmark::Shutdown();
}

int bt_gbench_keep_running(bt_gbench_state *state) {
    return as_state(state).KeepRunning() ? 1 : 0;
}

int64_t bt_gbench_iterations(const bt_gbench_state *state) {
    return static_cast<int64_t>(as_state(state).iterations());
}

void bt_gbench_pause_timing(bt_gbench_state *state) {
    as_state(state).PauseTiming();
}
void bt_gbench_resume_timing(bt_gbench_state *state) {
    as_state(state).ResumeTiming();
}

void bt_gbench_skip(bt_gbench_state *state, const char *reason) {
    as_state(state).SkipWithError(reason ? reason : "skipped");
}

int bt_gbench_skipped(const bt_gbench_state *state) {
    return as_state(state).error_occurred() ? 1 : 0;
}

void bt_gbench_set_label(bt_gbench_state *state, const char *label) {
    as_state(state).SetLabel(label ? label : "");
}

void bt_gbench_set_counter(bt_gbench_state *state, const char *name, double value) {
    as_state(state).counters[name] = benchmark::Counter(value);
}

void bt_gbench_set_rate(bt_gbench_state *state, const char *name, double amount_per_iteration,
                        int binary) {
    as_state(state).counters[name] =
        benchmark::Counter(amount_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                           binary ? benchmark::Counter::kIs1024 : benchmark::Counter::kIs1000);
}

} // extern "C"
