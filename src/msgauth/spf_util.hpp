// Small helpers shared by the SPF and DMARC code: picking the one versioned record out of a TXT
// answer. Header-only; depends on nothing. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace posthorn::msgauth {

// RFC 7208 §4.5 and RFC 7489 §6.6.3 both keep only the TXT records that start with their version
// tag ("v=spf1", "v=DMARC1"), and treat more than one such record as an error.
enum class TxtPick { kNone, kOne, kSeveral };

struct PickedTxt {
  TxtPick pick = TxtPick::kNone;
  const std::string* record = nullptr;  // set for kOne; points into the answer
};

template <class IsRecord>
PickedTxt pick_txt_record(const std::vector<std::string>& records, IsRecord is_record) {
  PickedTxt out;
  for (const auto& txt : records) {
    if (!is_record(txt)) continue;
    if (out.record != nullptr) return PickedTxt{TxtPick::kSeveral, nullptr};
    out = PickedTxt{TxtPick::kOne, &txt};
  }
  return out;
}

}  // namespace posthorn::msgauth
