// The dashboard's escaping, auth and listen rules, and that every page puts coordinator data
// through EscapeHtml (client/dashboard/{html,auth,pages}).
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "client/dashboard/auth.h"
#include "client/dashboard/html.h"
#include "client/dashboard/pages.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hypersweep::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kEvil[] = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";

TEST(EscapeHtmlTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\" title='y'>&amp;</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("plain text, é ∑"), "plain text, é ∑");
}

TEST(EscapeHtmlTest, ReplacesInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(EscapeHtml(std::string("a\xC0<b")), "a\xEF\xBF\xBD&lt;b");           // overlong lead
  EXPECT_EQ(EscapeHtml(std::string("x\xE2\x82")), "x\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(EscapeHtml(std::string("a\0b\x1b", 4)),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  EXPECT_EQ(EscapeHtml("tab\tnl\n"), "tab\tnl\n");
}

TEST(UrlComponentTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(UrlComponent("sw-1_a.b~"), "sw-1_a.b~");
  EXPECT_EQ(UrlComponent("a b/\"<>&?"), "a%20b%2F%22%3C%3E%26%3F");
}

TEST(AuthTest, BearerAndBasicWithTheTokenAsPassword) {
  EXPECT_TRUE(Authorized("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(Authorized("bearer s3cret", "s3cret"));
  EXPECT_TRUE(Authorized("Basic " + absl::Base64Escape("anyone:s3cret"), "s3cret"));
  EXPECT_FALSE(Authorized("Basic " + absl::Base64Escape("s3cret:wrong"), "s3cret"));
  EXPECT_FALSE(Authorized("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(Authorized("Bearer s3cretX", "s3cret"));
  EXPECT_FALSE(Authorized("", "s3cret"));
  EXPECT_FALSE(Authorized("Bearer ", ""));
  EXPECT_FALSE(Authorized("Digest s3cret", "s3cret"));
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

TEST(ListenTest, LoopbackNeedsNothingElseNeedsTokenThenTls) {
  EXPECT_TRUE(CheckListen("127.0.0.1:8080", false, false).ok());
  EXPECT_TRUE(CheckListen("[::1]:8080", false, false).ok());
  auto no_token = CheckListen("0.0.0.0:8080", false, false);
  EXPECT_EQ(no_token.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_token.message()), HasSubstr("--token-file"));
  auto no_tls = CheckListen("0.0.0.0:8080", true, false);
  EXPECT_THAT(std::string(no_tls.message()), HasSubstr("--tls-cert"));
  EXPECT_TRUE(CheckListen("0.0.0.0:8080", true, true).ok());
}

TEST(ListenTest, ParsesHostAndPort) {
  auto a = ParseListen("127.0.0.1:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  auto v6 = ParseListen("[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_FALSE(ParseListen("localhost").ok());
  EXPECT_FALSE(ParseListen(":8080").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseListen("127.0.0.1:x").ok());
}

// Every page built from data full of markup: no raw tag from the data anywhere.
TEST(PagesTest, CoordinatorDataIsEscapedEverywhere) {
  v1::Sweep sweep;
  sweep.set_id("sw-1");
  sweep.set_name(kEvil);
  sweep.set_state(v1::SWEEP_PAUSED);
  sweep.set_paused_reason(kEvil);
  sweep.mutable_objective()->set_metric(kEvil);
  sweep.mutable_counts()->set_total(2);
  v1::Trial t;
  t.set_id(std::string("sw-1-0") + kEvil);
  t.set_sweep_id("sw-1");
  t.set_status(v1::FAILED);
  t.set_reason(kEvil);
  t.set_worker_id(kEvil);
  t.set_spec_json(kEvil);
  (*t.mutable_params())[kEvil] = kEvil;
  t.set_best_value(0.5);
  v1::EpochMetrics e;
  e.set_epoch(0);
  (*e.mutable_metrics())[kEvil] = 1.0;
  v1::Worker w;
  w.set_id(kEvil);
  w.mutable_capabilities()->set_host(kEvil);
  w.mutable_capabilities()->set_device(kEvil);

  SweepView view;
  view.sweep = sweep;
  view.best = t;
  view.trials = {t};
  view.matching = 1;
  view.next_page_token = kEvil;
  view.query.sort = kEvil;
  view.query.status = kEvil;
  view.metrics = {kEvil};
  view.allow_cancel = true;
  const std::vector<std::string> pages = {
      SweepsPage({SweepRow{sweep, 0.5}}), SweepPage(view, absl::Now()), TrialPage(t, sweep, {e}),
      WorkersPage({w}, absl::Now()),      ErrorPage(503, kEvil, kEvil),
  };
  for (const auto& page : pages) {
    EXPECT_THAT(page, Not(HasSubstr("<script>alert"))) << page;
    EXPECT_THAT(page, Not(HasSubstr("<img src=x"))) << page;
    EXPECT_THAT(page, Not(HasSubstr("\"'&<"))) << page;
    EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;")) << page;
    // The only scripts are the embedded one, by URL.
    EXPECT_EQ(page.find("<script"), page.rfind("<script")) << page;
    EXPECT_THAT(page, HasSubstr("<script src=\"/static/dashboard.js\" defer></script>"));
  }
}

TEST(PagesTest, StableIdsForBrowserTests) {
  v1::Sweep sweep;
  sweep.set_id("sw-9");
  sweep.set_name("mnist");
  sweep.set_state(v1::SWEEP_RUNNING);
  sweep.mutable_counts()->set_total(3);
  sweep.mutable_counts()->set_succeeded(1);
  sweep.mutable_counts()->set_finished(1);
  v1::Trial t;
  t.set_id("sw-9-0");
  t.set_sweep_id("sw-9");
  SweepView view;
  view.sweep = sweep;
  view.trials = {t};
  view.metrics = {"val_loss"};
  const std::string page = SweepPage(view, absl::Now());
  for (const char* needle :
       {"id=\"sweep-counts\"", "id=\"progress-bar\"", "id=\"eta\"", "id=\"best-trial\"",
        "id=\"trials-table\"", "data-trial-id=\"sw-9-0\"", "id=\"trial-filter\"",
        "data-events-url=\"/sweeps/sw-9/events\"", "id=\"connection-banner\"",
        "src=\"/sweeps/sw-9/plots/curves.svg?metric=val_loss\"", "data-count=\"succeeded\""}) {
    EXPECT_THAT(page, HasSubstr(needle));
  }
  EXPECT_THAT(page, Not(HasSubstr("cancel-button")));  // read-only unless allow_cancel
  view.allow_cancel = true;
  EXPECT_THAT(SweepPage(view, absl::Now()), HasSubstr("id=\"cancel-button\""));
}

}  // namespace
}  // namespace hypersweep::dashboard
