#include "client/dashboard/pages.h"

#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/dashboard/html.h"
#include "client/output.h"
#include "client/progress.h"
#include "client/sweep_view.h"
#include "client/trial_row.h"

namespace hypersweep::dashboard {
namespace {

std::string H(std::string_view text) { return EscapeHtml(text); }

std::string SweepUrl(const std::string& id) { return absl::StrCat("/sweeps/", UrlComponent(id)); }

std::string TrialUrl(const v1::Trial& t) {
  return absl::StrCat(SweepUrl(t.sweep_id()), "/trials/", UrlComponent(t.id()));
}

std::string Cell(const std::string& text) { return absl::StrCat("<td>", H(text), "</td>"); }

std::string Optional(bool has, double v) { return has ? NumberText(v) : ""; }

std::string Ago(int64_t unix_ms, absl::Time now) {
  if (unix_ms <= 0) return "never";
  const double s = absl::ToDoubleSeconds(now - absl::FromUnixMillis(unix_ms));
  return absl::StrCat(FormatDuration(std::max(0.0, s)), " ago");
}

// The query string of the trial table for `q`, with `sort` and `status` and `token` replaced.
std::string TrialQueryString(const TrialQuery& q, const std::string& sort,
                             const std::string& status, const std::string& token) {
  std::vector<std::string> parts;
  if (!sort.empty()) parts.push_back("sort=" + UrlComponent(sort));
  if (!status.empty()) parts.push_back("status=" + UrlComponent(status));
  if (!token.empty()) parts.push_back("page_token=" + UrlComponent(token));
  if (q.page_size != 100) parts.push_back(absl::StrCat("page_size=", q.page_size));
  return parts.empty() ? "?" : "?" + absl::StrJoin(parts, "&");
}

constexpr const char* kStatuses[] = {"QUEUED", "LEASED",    "SUCCEEDED", "DIVERGED",
                                     "FAILED", "CANCELLED", "PRUNED"};

}  // namespace

std::string NumberText(std::optional<double> value) {
  if (!value) return "";
  return absl::StrFormat("%.6g", *value);
}

std::string Layout(const std::string& title, const std::string& body, const std::string& events_url,
                   int refresh_seconds) {
  std::string attrs;
  if (!events_url.empty()) absl::StrAppend(&attrs, " data-events-url=\"", H(events_url), "\"");
  if (refresh_seconds > 0)
    absl::StrAppend(&attrs, " data-refresh-seconds=\"", refresh_seconds, "\"");
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>",
      H(title),
      " - hypersweep</title>"
      "<link rel=\"stylesheet\" href=\"/static/dashboard.css\">"
      "<script src=\"/static/dashboard.js\" defer></script></head>\n<body",
      attrs,
      ">\n<nav id=\"nav\"><a href=\"/\" id=\"nav-sweeps\">sweeps</a> "
      "<a href=\"/workers\" id=\"nav-workers\">workers</a></nav>\n"
      "<div id=\"connection-banner\" role=\"status\" data-state=\"live\" hidden></div>\n<main>\n",
      body, "</main>\n</body></html>\n");
}

std::string ErrorPage(int http_status, const std::string& title, const std::string& message) {
  return Layout(title,
                absl::StrCat("<h1 id=\"error-title\" data-http-status=\"", http_status, "\">",
                             H(title), "</h1>\n<p id=\"error-message\">", H(message), "</p>\n"),
                "", http_status == 503 ? 5 : 0);
}

std::string SweepsFragment(const std::vector<SweepRow>& rows) {
  std::string out =
      "<table id=\"sweeps-table\"><thead><tr><th>name</th><th>id</th><th>state</th>"
      "<th>progress</th><th>best</th><th>created</th></tr></thead><tbody>\n";
  for (const auto& r : rows) {
    const auto& s = r.sweep;
    const auto& c = s.counts();
    absl::StrAppend(
        &out, "<tr data-sweep-id=\"", H(s.id()), "\" data-state=\"", H(StateName(s.state())),
        "\"><td class=\"sweep-name\"><a href=\"", SweepUrl(s.id()), "\">", H(s.name()), "</a></td>",
        Cell(s.id()), Cell(StateName(s.state())),
        absl::StrFormat("<td><progress value=\"%d\" max=\"%d\"></progress> %d/%d</td>",
                        DoneTrials(c), std::max<int64_t>(c.total(), 1), DoneTrials(c), c.total()),
        "<td class=\"sweep-best\">", H(NumberText(r.best)),
        r.best ? absl::StrCat(" <span class=\"metric\">", H(s.objective().metric()), "</span>")
               : "",
        "</td>", Cell(TimeText(s.created_unix_ms())), "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table>\n");
  if (rows.empty()) absl::StrAppend(&out, "<p id=\"no-sweeps\">No sweeps yet.</p>\n");
  return out;
}

std::string SweepsPage(const std::vector<SweepRow>& rows) {
  return Layout("sweeps",
                absl::StrCat("<h1>Sweeps</h1>\n<div id=\"sweeps\" data-fragment=\"sweeps\">",
                             SweepsFragment(rows), "</div>\n"),
                "", /*refresh_seconds=*/10);
}

std::string SweepSummaryFragment(const SweepView& view, absl::Time now) {
  const v1::Sweep& s = view.sweep;
  const auto& c = s.counts();
  std::string out =
      absl::StrCat("<p>state <span id=\"sweep-state\">", H(StateName(s.state())), "</span>");
  if (!s.paused_reason().empty()) {
    absl::StrAppend(&out, " <span id=\"paused-reason\">", H(s.paused_reason()), "</span>");
  }
  absl::StrAppend(&out, "</p>\n<table id=\"sweep-counts\"><tr>");
  const std::pair<const char*, int64_t> counts[] = {
      {"queued", c.queued()},     {"leased", c.leased()}, {"succeeded", c.succeeded()},
      {"diverged", c.diverged()}, {"failed", c.failed()}, {"cancelled", c.cancelled()},
      {"pruned", c.pruned()},     {"total", c.total()}};
  for (const auto& [name, n] : counts) {
    absl::StrAppend(&out, "<td data-count=\"", name, "\">", name, " <b>", n, "</b></td>");
  }
  absl::StrAppend(&out, "</tr></table>\n");
  const int64_t done = DoneTrials(c);
  absl::StrAppend(&out, absl::StrFormat("<p><progress id=\"progress-bar\" value=\"%d\" max=\"%d\">"
                                        "</progress> <span id=\"progress-text\">%d/%d (%.0f%%)"
                                        "</span></p>\n",
                                        done, std::max<int64_t>(c.total(), 1), done, c.total(),
                                        100 * DoneFraction(c)));
  const std::string wait = WaitReason(s);
  const double eta = EtaSeconds(s, now);
  absl::StrAppend(&out, "<p>ETA <span id=\"eta\">",
                  !wait.empty()     ? H(wait)
                  : std::isnan(eta) ? std::string("unknown")
                  : eta == 0        ? std::string("done")
                                    : H(FormatDuration(eta)),
                  "</span></p>\n");
  absl::StrAppend(&out, "<p id=\"best-trial\">best ", H(s.objective().metric()), " (",
                  H(GoalName(s.objective().goal())), "): ");
  if (view.best && view.best->has_best_value()) {
    absl::StrAppend(&out, "<a href=\"", TrialUrl(*view.best), "\" data-trial-id=\"",
                    H(view.best->id()), "\">", H(view.best->id()), "</a> <b id=\"best-value\">",
                    H(NumberText(view.best->best_value())), "</b>");
  } else {
    absl::StrAppend(&out, "none yet");
  }
  absl::StrAppend(&out, "</p>\n");
  return out;
}

std::string TrialsFragment(const SweepView& view) {
  const TrialQuery& q = view.query;
  std::string out =
      "<form id=\"trials-query\" method=\"get\">status <select name=\"status\" "
      "id=\"trials-status\"><option value=\"\">all</option>";
  for (const char* st : kStatuses) {
    absl::StrAppend(&out, "<option", q.status == st ? " selected" : "", ">", st, "</option>");
  }
  absl::StrAppend(&out, "</select>");
  if (!q.sort.empty()) {
    absl::StrAppend(&out, "<input type=\"hidden\" name=\"sort\" value=\"", H(q.sort), "\">");
  }
  absl::StrAppend(&out,
                  " <button type=\"submit\">show</button> filter rows <input type=\"search\" "
                  "id=\"trial-filter\" placeholder=\"text in any cell\"></form>\n");
  const std::vector<std::string> keys = ParamKeys(view.trials);
  const std::string objective = view.sweep.objective().metric();
  const std::string sort_objective = TrialQueryString(q, objective, q.status, "");
  const std::string sort_index = TrialQueryString(q, "", q.status, "");
  absl::StrAppend(&out, "<div class=\"wide\"><table id=\"trials-table\" data-matching=\"",
                  view.matching, "\"><thead><tr><th><a href=\"", H(sort_index),
                  "\" data-sort=\"index\">#</a></th><th>trial</th><th>status</th>");
  for (const auto& k : keys) absl::StrAppend(&out, "<th data-param=\"", H(k), "\">", H(k), "</th>");
  absl::StrAppend(&out, "<th>epochs</th><th><a href=\"", H(sort_objective),
                  "\" data-sort=\"objective\">best ", H(objective), "</a></th><th>final ",
                  H(objective), "</th><th>attempt</th><th>reason</th></tr></thead><tbody>\n");
  for (const auto& t : view.trials) {
    absl::StrAppend(&out, "<tr data-trial-id=\"", H(t.id()), "\" data-status=\"",
                    H(StatusName(t.status())), "\" data-epochs=\"", t.epochs_reported(), "\">",
                    Cell(absl::StrCat(t.index())), "<td><a href=\"", TrialUrl(t), "\">", H(t.id()),
                    "</a></td>", Cell(StatusName(t.status())));
    for (const auto& k : keys) {
      auto it = t.params().find(k);
      absl::StrAppend(&out, Cell(it == t.params().end() ? "" : it->second));
    }
    absl::StrAppend(&out, Cell(absl::StrCat(t.epochs_reported())),
                    Cell(Optional(t.has_best_value(), t.best_value())),
                    Cell(Optional(t.has_final_value(), t.final_value())),
                    Cell(absl::StrCat(t.attempt())), Cell(t.reason()), "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table></div>\n<p id=\"trials-paging\">", view.trials.size(),
                  " of ", view.matching, " trials");
  if (!q.page_token.empty()) {
    absl::StrAppend(&out, " <a id=\"trials-first\" href=\"",
                    H(TrialQueryString(q, q.sort, q.status, "")), "\">first page</a>");
  }
  if (!view.next_page_token.empty()) {
    absl::StrAppend(&out, " <a id=\"trials-next\" href=\"",
                    H(TrialQueryString(q, q.sort, q.status, view.next_page_token)),
                    "\">next page</a>");
  }
  absl::StrAppend(&out, "</p>\n");
  return out;
}

std::string SweepPage(const SweepView& view, absl::Time now) {
  const v1::Sweep& s = view.sweep;
  const std::string base = SweepUrl(s.id());
  std::string body = absl::StrCat("<h1 id=\"sweep-name\" data-sweep-id=\"", H(s.id()), "\">",
                                  H(s.name()), "</h1>\n<p class=\"sweep-id\">", H(s.id()),
                                  " created ", H(TimeText(s.created_unix_ms())), "</p>\n");
  if (view.allow_cancel && s.state() == v1::SWEEP_RUNNING) {
    absl::StrAppend(&body, "<p><button id=\"cancel-button\" data-cancel-url=\"", H(base),
                    "/cancel\">cancel sweep</button></p>\n");
  }
  absl::StrAppend(&body, "<section id=\"sweep-summary\" data-fragment=\"summary\">",
                  SweepSummaryFragment(view, now), "</section>\n");
  absl::StrAppend(&body, "<h2>Trials</h2>\n<section id=\"trials\" data-fragment=\"trials\">",
                  TrialsFragment(view), "</section>\n<h2>Plots</h2>\n<section id=\"plots\">\n");
  auto img = [&](const std::string& id, const std::string& kind, const std::string& metric,
                 const std::string& alt) {
    const std::string src = absl::StrCat(base, "/plots/", kind, ".svg",
                                         metric.empty() ? "" : "?metric=" + UrlComponent(metric));
    absl::StrAppend(&body, "<figure><img id=\"", H(id), "\" data-plot=\"", H(kind),
                    "\" data-metric=\"", H(metric), "\" src=\"", H(src), "\" alt=\"", H(alt),
                    "\"></figure>\n");
  };
  for (const auto& m : view.metrics) img("plot-curves-" + m, "curves", m, m + " per epoch");
  img("plot-objective-history", "objective-history", "",
      "the objective over completed trials, and the best so far");
  img("plot-parallel", "parallel", "", "parallel coordinates of the parameters and the objective");
  img("plot-time", "time", "val_loss", "validation loss against wall-clock time");
  img("plot-schedule", "schedule", "", "each point's learning-rate schedule");
  if (view.has_lr_range_tests) img("plot-lr-finder", "lr-finder", "", "LR range tests");
  absl::StrAppend(&body, "</section>\n");
  return Layout(s.name().empty() ? s.id() : s.name(), body, base + "/events");
}

std::string TrialFragment(const v1::Trial& t, const v1::Sweep& sweep,
                          const std::vector<v1::EpochMetrics>& epochs) {
  std::string out = absl::StrCat(
      "<table id=\"trial-fields\">"
      "<tr><th>status</th><td id=\"trial-status\">",
      H(StatusName(t.status())),
      "</td></tr>"
      "<tr><th>attempt</th><td id=\"trial-attempt\">",
      t.attempt(),
      "</td></tr>"
      "<tr><th>worker</th><td id=\"trial-worker\">",
      H(t.worker_id()),
      "</td></tr>"
      "<tr><th>reason</th><td id=\"trial-reason\">",
      H(t.reason()),
      "</td></tr>"
      "<tr><th>epochs reported</th><td id=\"epoch-count\">",
      t.epochs_reported(),
      "</td></tr>"
      "</table>\n<h2>Parameters</h2>\n<table id=\"trial-params\">");
  for (const auto& [k, v] :
       std::map<std::string, std::string>(t.params().begin(), t.params().end())) {
    absl::StrAppend(&out, "<tr data-param=\"", H(k), "\"><th>", H(k), "</th>", Cell(v), "</tr>");
  }
  absl::StrAppend(&out, "</table>\n<h2>Epochs</h2>\n");
  std::vector<std::string> names;
  {
    std::map<std::string, int> seen;
    for (const auto& e : epochs) {
      for (const auto& [k, v] : e.metrics()) seen[k];
    }
    for (const auto& [k, unused] : seen) names.push_back(k);
  }
  absl::StrAppend(&out, "<div class=\"wide\"><table id=\"epochs-table\"><thead><tr><th>epoch</th>");
  for (const auto& n : names)
    absl::StrAppend(&out, "<th data-metric=\"", H(n), "\">", H(n), "</th>");
  absl::StrAppend(&out, "</tr></thead><tbody>\n");
  for (const auto& e : epochs) {
    absl::StrAppend(&out, "<tr data-epoch=\"", e.epoch(), "\">", Cell(absl::StrCat(e.epoch())));
    for (const auto& n : names) {
      auto it = e.metrics().find(n);
      absl::StrAppend(&out, Cell(it == e.metrics().end() ? "" : NumberText(it->second)));
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table></div>\n<h2>Spec</h2>\n<pre id=\"trial-spec\">",
                  H(t.spec_json()), "</pre>\n");
  return out;
}

std::string TrialPage(const v1::Trial& t, const v1::Sweep& sweep,
                      const std::vector<v1::EpochMetrics>& epochs) {
  const std::string body =
      absl::StrCat("<h1 id=\"trial-id\" data-trial-id=\"", H(t.id()), "\">trial ", H(t.id()),
                   "</h1>\n", "<p>sweep <a id=\"trial-sweep\" href=\"", SweepUrl(sweep.id()), "\">",
                   H(sweep.name()), "</a> (", H(sweep.id()), "), index ", t.index(), "</p>\n",
                   "<section id=\"trial\" data-fragment=\"trial\">",
                   TrialFragment(t, sweep, epochs), "</section>\n");
  return Layout("trial " + t.id(), body, SweepUrl(sweep.id()) + "/events");
}

std::string WorkersFragment(const std::vector<v1::Worker>& workers, absl::Time now) {
  std::string out =
      "<table id=\"workers-table\"><thead><tr><th>worker</th><th>host</th><th>device</th>"
      "<th>slots</th><th>busy</th><th>last seen</th><th>failures</th><th>quarantine</th></tr>"
      "</thead><tbody>\n";
  for (const auto& w : workers) {
    absl::StrAppend(&out, "<tr data-worker-id=\"", H(w.id()), "\" data-quarantined=\"",
                    w.quarantined() ? "true" : "false", "\">", Cell(w.id()),
                    Cell(w.capabilities().host()), Cell(w.capabilities().device()),
                    Cell(absl::StrCat(w.capabilities().slots())),
                    Cell(absl::StrCat(w.active_leases())), Cell(Ago(w.last_seen_unix_ms(), now)),
                    Cell(absl::StrCat(w.consecutive_failures())),
                    Cell(w.quarantined() ? "quarantined" : ""), "</tr>\n");
  }
  absl::StrAppend(&out, "</tbody></table>\n");
  if (workers.empty()) absl::StrAppend(&out, "<p id=\"no-workers\">No workers registered.</p>\n");
  return out;
}

std::string WorkersPage(const std::vector<v1::Worker>& workers, absl::Time now) {
  return Layout("workers",
                absl::StrCat("<h1>Workers</h1>\n<div id=\"workers\" data-fragment=\"workers\">",
                             WorkersFragment(workers, now), "</div>\n"),
                "", /*refresh_seconds=*/10);
}

}  // namespace hypersweep::dashboard
