// The dashboard's HTML: whole pages and the fragments the page script re-fetches when the sweep
// changes (`?fragment=NAME`). Every value that comes from the coordinator (names, reasons, metric
// and parameter names, hosts, specs) goes through EscapeHtml (client/dashboard/html.h); ids in
// links go through UrlComponent. Stable ids and data- attributes mark what browser tests look
// for (documented in docs/DASHBOARD.md). Pure functions; thread-safe.
#ifndef HYPERSWEEP_CLIENT_DASHBOARD_PAGES_H_
#define HYPERSWEEP_CLIENT_DASHBOARD_PAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "hypersweep/v1/service.pb.h"
#include "hypersweep/v1/sweep.pb.h"

namespace hypersweep::dashboard {

// A complete page: head (the embedded stylesheet and script, by URL), the navigation, the
// "reconnecting" banner, then `body` (already HTML). `events_url` (may be empty) is where the page
// script subscribes to server-sent events; `refresh_seconds` > 0 makes it re-fetch the page's
// fragments that often instead (pages without a stream of their own).
std::string Layout(const std::string& title, const std::string& body, const std::string& events_url,
                   int refresh_seconds = 0);

// A page for an error: 503 "coordinator unavailable", 404, ... `message` is escaped.
std::string ErrorPage(int http_status, const std::string& title, const std::string& message);

// The list of sweeps (newest first), with each one's best objective value when known.
struct SweepRow {
  v1::Sweep sweep;
  std::optional<double> best;
};
std::string SweepsFragment(const std::vector<SweepRow>& rows);
std::string SweepsPage(const std::vector<SweepRow>& rows);

// What the trial table shows: sorted by `sort` ("" : index; else a metric, by its best value),
// only `status` ("" : all), one page of at most page_size from page_token.
struct TrialQuery {
  std::string sort;
  std::string status;
  std::string page_token;
  int page_size = 100;
};

struct SweepView {
  v1::Sweep sweep;
  std::optional<v1::Trial> best;  // the best trial by the objective, if any has a value
  std::vector<v1::Trial> trials;  // the page asked for
  int64_t matching = 0;           // trials matching the query, over all pages
  std::string next_page_token;    // "" on the last page
  TrialQuery query;
  std::vector<std::string> metrics;  // metric names with learning curves
  bool has_lr_range_tests = false;
  bool allow_cancel = false;
};

// The counts, progress bar, ETA and best trial ("summary" fragment).
std::string SweepSummaryFragment(const SweepView& view, absl::Time now);
// The sortable, filterable trial table with its paging links ("trials" fragment).
std::string TrialsFragment(const SweepView& view);
std::string SweepPage(const SweepView& view, absl::Time now);

// A trial: parameters, spec, every epoch, failure reason, attempts, worker ("trial" fragment).
std::string TrialFragment(const v1::Trial& trial, const v1::Sweep& sweep,
                          const std::vector<v1::EpochMetrics>& epochs);
std::string TrialPage(const v1::Trial& trial, const v1::Sweep& sweep,
                      const std::vector<v1::EpochMetrics>& epochs);

// Workers: host, device, slots, busy, last seen, quarantine ("workers" fragment).
std::string WorkersFragment(const std::vector<v1::Worker>& workers, absl::Time now);
std::string WorkersPage(const std::vector<v1::Worker>& workers, absl::Time now);

// Numbers as the tables show them ("%.6g"; "" for nullopt).
std::string NumberText(std::optional<double> value);

}  // namespace hypersweep::dashboard

#endif  // HYPERSWEEP_CLIENT_DASHBOARD_PAGES_H_
