// FindMetric must give exactly what the full JSON parser gives, for the text our store writes
// (its fast path) and for any other text (its fallback).
#include "server/store/metric_json.h"

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

// The reference: a full parse, as GetEpochs reads epochs.
std::optional<double> Reference(const std::string& json, const std::string& name) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(name);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

void ExpectSame(const std::string& json, const std::string& name) {
  SCOPED_TRACE(json + " [" + name + "]");
  const auto want = Reference(json, name);
  const auto got = FindMetric(json, name);
  ASSERT_EQ(got.has_value(), want.has_value());
  if (want) {
    EXPECT_EQ(Bits(*got), Bits(*want)) << *got << " vs " << *want;
  }
}

TEST(FindMetricTest, ReadsWhatTheStoreWritesBitExact) {
  std::mt19937_64 rng(20261201);
  std::uniform_int_distribution<uint64_t> any_bits;
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 20000; ++i) {
    std::map<std::string, double> m;  // as the store builds it: sorted, unique keys
    double v;
    do {
      const uint64_t b = any_bits(rng);
      std::memcpy(&v, &b, sizeof v);
    } while (!std::isfinite(v));  // the scheduler never stores NaN or inf
    m["val_loss"] = i % 3 == 0 ? v : unit(rng);
    m["loss"] = i % 2 ? std::floor(unit(rng) * 1000) : -unit(rng);  // integral values too
    m["val_loss_ema"] = unit(rng) * 1e-300;
    m["lr"] = i % 5 == 0 ? -0.0 : 1e-7;
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [k, x] : m) j[k] = x;
    const std::string text = j.dump();
    for (const char* name : {"val_loss", "loss", "val_loss_ema", "lr", "val", "absent"}) {
      ExpectSame(text, name);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(FindMetricTest, KeysThatArePrefixesOrSuffixesOfOthersAreNotConfused) {
  const std::string text = R"({"loss":1.5,"val_loss":0.25,"val_loss2":3.0})";
  EXPECT_EQ(FindMetric(text, "loss"), 1.5);
  EXPECT_EQ(FindMetric(text, "val_loss"), 0.25);
  EXPECT_EQ(FindMetric(text, "val_loss2"), 3.0);
  EXPECT_EQ(FindMetric(text, "val"), std::nullopt);
  EXPECT_EQ(FindMetric(text, ""), std::nullopt);
}

TEST(FindMetricTest, AnyOtherShapeGivesTheParsersAnswer) {
  const char* texts[] = {
      "{}",
      "",
      "[]",
      "null",
      "{",
      R"({"a":1})",
      R"({"a":-0})",  // the parser keeps an integer: +0
      R"({"a":-0.0})",
      R"({"a":1e400})",
      R"({"a":1E+2,"b":2e-2})",
      R"({"a":01})",  // not JSON
      R"({"a":.5})",
      R"({"a":+1})",
      R"({"a":1.})",
      R"({"a":1,"a":2})",  // duplicate: the last wins
      R"({ "a" : 1 , "b" : 2 })",
      R"({"a":null,"b":2})",
      R"({"a":"1","b":2})",
      R"({"a":true})",
      R"({"a":[1],"b":2})",
      R"({"a":{"b":1},"b":3})",
      R"({"a\"b":1,"b":2})",
      R"({"\u0061":7})",
      R"({"a":1,})",
      R"({"a":1}x)",
      R"({"a":1)",
      R"({"a":NaN})",
      R"({"a":12345678901234567890123})",
      R"({"a":18446744073709551615,"b":-9223372036854775808})",
      R"({"a":9007199254740993})",
  };
  for (const char* t : texts) {
    for (const char* name : {"a", "b", "a\"b", "x"}) ExpectSame(t, name);
  }
}

}  // namespace
}  // namespace hypersweep
