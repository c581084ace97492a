#include "server/store/trial_fields.h"

#include <variant>

namespace hypersweep {

void CopyTrialFields(const TrialRecord& from, TrialField::Write write, TrialRecord* to) {
  for (const TrialField& f : kTrialFields) {
    if (f.write != write) continue;
    std::visit([&](auto TrialRecord::*m) { to->*m = from.*m; }, f.member);
  }
}

TrialRecord MutableFieldsOf(const TrialRecord& t) {
  TrialRecord u;
  u.id = t.id;
  CopyTrialFields(t, TrialField::Write::kUpdate, &u);
  return u;
}

}  // namespace hypersweep
