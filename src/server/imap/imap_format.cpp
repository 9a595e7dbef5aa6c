#include "server/imap/imap_format.hpp"

#include "base/ascii.hpp"

namespace posthorn::server::imap {

namespace {

struct SystemFlagName {
  store::SystemFlag flag;
  std::string_view name;
};
constexpr SystemFlagName kSystemFlags[] = {
    {store::kAnswered, "\\Answered"}, {store::kFlagged, "\\Flagged"}, {store::kDeleted, "\\Deleted"},
    {store::kSeen, "\\Seen"},         {store::kDraft, "\\Draft"},
};

}  // namespace

std::string format_flags(const store::Flags& flags, bool recent) {
  std::string out = "(";
  auto add = [&out](std::string_view s) {
    if (out.size() > 1) out += ' ';
    out += s;
  };
  for (const auto& f : kSystemFlags) {
    if (flags.has(f.flag)) add(f.name);
  }
  if (recent) add("\\Recent");
  for (const auto& k : flags.keywords) add(k);
  out += ')';
  return out;
}

Result<store::Flags> parse_flags(const std::vector<std::string>& wire) {
  store::Flags flags;
  for (const auto& w : wire) {
    if (!w.empty() && w[0] == '\\') {
      bool known = false;
      for (const auto& f : kSystemFlags) {
        if (ascii::iequals(w, f.name)) {
          flags.system |= f.flag;
          known = true;
        }
      }
      if (ascii::iequals(w, "\\Recent")) known = true;
      if (!known) return make_error(Errc::kInvalid, "Unknown system flag " + w);
      continue;
    }
    if (auto ok = store::check_keyword(w); !ok) return ok.error();
    flags.keywords.push_back(w);
  }
  flags.normalize();
  return flags;
}

store::SpecialUse special_use_from_name(std::string_view name) {
  using store::SpecialUse;
  for (SpecialUse u : {SpecialUse::kAll, SpecialUse::kArchive, SpecialUse::kDrafts, SpecialUse::kFlagged,
                       SpecialUse::kJunk, SpecialUse::kSent, SpecialUse::kTrash, SpecialUse::kImportant}) {
    if (ascii::iequals(name, store::to_string(u))) return u;
  }
  return SpecialUse::kNone;
}

std::string format_status_items(const std::vector<proto::imap::StatusItem>& items, const store::MailboxStatus& st,
                                uint64_t append_limit) {
  using proto::imap::StatusItem;
  std::string out;
  for (StatusItem item : items) {
    uint64_t v = 0;
    switch (item) {
      case StatusItem::kMessages: v = st.messages; break;
      case StatusItem::kRecent: v = st.recent; break;
      case StatusItem::kUidNext: v = st.uid_next; break;
      case StatusItem::kUidValidity: v = st.uid_validity; break;
      case StatusItem::kUnseen: v = st.unseen; break;
      case StatusItem::kDeleted: v = st.deleted; break;
      case StatusItem::kSize: v = st.size; break;
      case StatusItem::kHighestModSeq: v = st.highest_modseq; break;
      case StatusItem::kAppendLimit: v = append_limit; break;
      case StatusItem::kDeletedStorage: v = kib_rounded_up(st.deleted_size); break;
    }
    if (!out.empty()) out += ' ';
    out += proto::imap::status_item_name(item);
    out += ' ';
    out += std::to_string(v);
  }
  return out;
}

uint64_t kib_rounded_up(uint64_t bytes) { return bytes / 1024 + (bytes % 1024 != 0 ? 1 : 0); }

std::string format_quota_resources(const store::QuotaUsage& usage) {
  std::string out;
  auto add = [&out](std::string_view name, uint64_t used, uint64_t limit) {
    out += out.empty() ? "(" : " ";
    out += name;
    out += ' ';
    out += std::to_string(used);
    out += ' ';
    out += std::to_string(limit);
  };
  if (usage.limits.storage_bytes != 0) {
    add("STORAGE", kib_rounded_up(usage.storage_bytes), kib_rounded_up(usage.limits.storage_bytes));
  }
  if (usage.limits.messages != 0) add("MESSAGE", usage.messages, usage.limits.messages);
  if (!out.empty()) out += ')';
  return out;
}

}  // namespace posthorn::server::imap
