// RFC 5322 address lists (From, To, Cc, ...) parsed into the shape an IMAP ENVELOPE needs
// [RFC 3501 §7.4.2]: display name, obsolete route, mailbox (local part), host, group markers.
// Tolerant: comments, quoted strings, groups, obsolete routes, missing domains, stray specials,
// missing '>' all parse. Linear in the input and capped in the number of addresses kept.
// Depends only on src/base and mime/encoded_word. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace posthorn::mime {

// One ENVELOPE address. A group is a start marker (mailbox = group name, host empty), its
// members, then an end marker (all fields empty) [RFC 3501 §7.4.2].
struct Address {
  std::string name;      // display name, RFC 2047-decoded UTF-8; empty when there is none
  std::string raw_name;  // display name as written (quotes removed, encoded words kept) for IMAP
  std::string adl;       // obsolete source route "@a,@b" [RFC 5322 §4.4]; empty when there is none
  std::string mailbox;   // local part, unquoted; for a group start the (raw) group name
  std::string host;      // domain as written; empty when missing (and for group markers)
  bool is_group_start = false;
  bool is_group_end = false;

  bool operator==(const Address&) const = default;
};

struct AddressOptions {
  std::size_t max_addresses = 10'000;  // entries kept, group markers included
};

struct AddressList {
  std::vector<Address> addresses;
  bool truncated = false;  // the cap was reached; an open group is still closed
};

// Parses an unfolded address-list header value. Empty elements (",,") are skipped. An element
// without '@' becomes a mailbox with an empty host. A comment supplies the name when there is no
// display name ("a@b (Name)"). Never fails.
AddressList parse_address_list(std::string_view value, const AddressOptions& options = {});

}  // namespace posthorn::mime
