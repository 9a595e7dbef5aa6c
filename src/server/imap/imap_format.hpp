// Conversions between mail store values and IMAP wire text that need both store types and the
// protocol grammar (so they live here, not in proto/ or store/): flag lists, special-use names,
// status items, quota resources. Pure; thread-safe.
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
// "MESSAGES 3 UIDNEXT 9" for the requested items (DELETED-STORAGE in KiB, like the STORAGE resource).
std::string format_status_items(const std::vector<proto::imap::StatusItem>& items, const store::MailboxStatus& st,
                                uint64_t append_limit);
// Bytes as the QUOTA STORAGE unit, 1024 octets, rounded up [RFC 9208 §5.1].
uint64_t kib_rounded_up(uint64_t bytes);
// The quota-list of a QUOTA response: "(STORAGE 12 1024 MESSAGE 3 100)" with only the limited
// resources (the grammar has no way to say "unlimited" [RFC 9208 §7]); "" when nothing is limited.
std::string format_quota_resources(const store::QuotaUsage& usage);

}  // namespace posthorn::server::imap
