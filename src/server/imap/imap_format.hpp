// Conversions between mail store values and IMAP wire text that need both store types and the
// protocol grammar (so they live here, not in proto/ or store/): flag lists, special-use names,
// status items. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/imap/command.hpp"
#include "store/types.hpp"

namespace posthorn::server::imap {

// "(\\Answered \\Seen $Label)", with "\\Recent" after the system flags when `recent`.
std::string format_flags(const store::Flags& flags, bool recent);
// Client flags (as parsed: "\\Seen", "$Label") to store flags. "\\Recent" is ignored (the server
// sets it) [RFC 3501 §2.3.2]; unknown system flags ("\\Foo", "\\*") and invalid keywords are
// kInvalid.
Result<store::Flags> parse_flags(const std::vector<std::string>& wire);
// "\\Sent" (any case) -> SpecialUse::kSent; kNone when unknown.
store::SpecialUse special_use_from_name(std::string_view name);
// "MESSAGES 3 UIDNEXT 9" for the requested items.
std::string format_status_items(const std::vector<proto::imap::StatusItem>& items, const store::MailboxStatus& st,
                                uint64_t append_limit);

}  // namespace posthorn::server::imap
