// Implementation notes
// - One modseq per operation and mailbox: every message an operation changes gets highest_modseq+1
//   (RFC 7162 allows several messages to share a modseq). A new mailbox starts at highest_modseq 1.
// - UIDVALIDITY comes from account.last_uid_validity: max(now, last + 1), so a name deleted and
//   created again (or renamed onto) never sees an old value, even within one second.
// - Mailbox hierarchy checks (children, parents) are done in C++ over the mailbox list: names are
//   few, and SQL substr() counts characters, not bytes.
// - The quota totals (account.storage_bytes, account.messages) change in the same statements'
//   transaction as the messages table, so they never drift.
#include "store/sqlite/account_index.hpp"

#include <algorithm>
#include <limits>

#include "base/ascii.hpp"
#include "base/log.hpp"

namespace posthorn::store::sqlite::index {

namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_uid_validity INTEGER NOT NULL,
  storage_bytes INTEGER NOT NULL,
  messages INTEGER NOT NULL
);
INSERT INTO account (id, last_uid_validity, storage_bytes, messages) VALUES (1, 0, 0, 0);
CREATE TABLE mailboxes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL,
  highest_modseq INTEGER NOT NULL,
  special_use INTEGER NOT NULL,
  first_recent INTEGER NOT NULL
);
CREATE TABLE subscriptions (
  name TEXT PRIMARY KEY NOT NULL
);
CREATE TABLE messages (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL,
  internal_date INTEGER NOT NULL,
  save_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  blob TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
-- The large per-message values live apart, so SELECT of a big mailbox scans only small rows.
CREATE TABLE message_bytes (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  prefix BLOB NOT NULL,
  summary BLOB NOT NULL,
  PRIMARY KEY (mailbox_id, uid),
  FOREIGN KEY (mailbox_id, uid) REFERENCES messages (mailbox_id, uid) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE TABLE expunged (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
)sql";

// Version 2: the content hash (POP3 UIDL, stable across export and import) and POP3's own state.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE message_bytes ADD COLUMN content_hash TEXT;
ALTER TABLE account ADD COLUMN pop3_policy TEXT NOT NULL DEFAULT '';
CREATE TABLE pop3_state (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  retrieved_at INTEGER NOT NULL DEFAULT 0,
  hidden INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (mailbox_id, uid),
  FOREIGN KEY (mailbox_id, uid) REFERENCES messages (mailbox_id, uid) ON DELETE CASCADE
) WITHOUT ROWID;
)sql";

struct DefaultMailbox {
  std::string_view name;
  SpecialUse use;
};
constexpr DefaultMailbox kDefaults[] = {
    {"INBOX", SpecialUse::kNone}, {"Sent", SpecialUse::kSent},   {"Drafts", SpecialUse::kDrafts},
    {"Trash", SpecialUse::kTrash}, {"Junk", SpecialUse::kJunk}, {"Archive", SpecialUse::kArchive},
};

constexpr std::string_view kMailboxColumns =
    "SELECT m.id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.special_use, m.first_recent, "
    "EXISTS (SELECT 1 FROM subscriptions s WHERE s.name = m.name) FROM mailboxes m ";
// kMetaColumns: the metadata (MessageInfo); kInfoColumns: also the blob id; kSummaryColumns: the
// metadata and the cached parse (what FETCH and SEARCH read); kMessageColumns: everything.
constexpr std::string_view kMetaColumns =
    "SELECT uid, modseq, flags, keywords, internal_date, save_date, size FROM messages ";
constexpr std::string_view kInfoColumns =
    "SELECT uid, modseq, flags, keywords, internal_date, save_date, size, blob FROM messages ";
constexpr std::string_view kSummaryColumns =
    "SELECT uid, modseq, flags, keywords, internal_date, save_date, size, summary "
    "FROM messages JOIN message_bytes USING (mailbox_id, uid) ";
constexpr std::string_view kMessageColumns =
    "SELECT uid, modseq, flags, keywords, internal_date, save_date, size, blob, prefix, summary, content_hash "
    "FROM messages JOIN message_bytes USING (mailbox_id, uid) ";

Error no_mailbox() { return make_error(Errc::kNotFound, "no such mailbox"); }

struct MailboxRow {
  MailboxInfo info;
  Uid first_recent = 1;
};

MailboxRow read_mailbox(const Stmt& st) {
  MailboxRow row;
  row.info.id = st.column_int(0);
  row.info.name = st.column_text(1);
  row.info.uid_validity = uint32_t(st.column_int(2));
  row.info.uid_next = Uid(st.column_int(3));
  row.info.highest_modseq = ModSeq(st.column_int(4));
  row.info.special_use = SpecialUse(st.column_int(5));
  row.first_recent = Uid(st.column_int(6));
  row.info.subscribed = st.column_int(7) != 0;
  return row;
}

std::string join_keywords(const std::vector<std::string>& keywords) {
  std::string out;
  for (const auto& k : keywords) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

std::vector<std::string> split_keywords(std::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  for (auto k : ascii::split(text, ' ')) out.emplace_back(k);
  return out;
}

// What a read of message rows includes: kMetaColumns, kInfoColumns, kSummaryColumns or kMessageColumns.
enum class Columns { kMeta, kInfo, kSummary, kAll };

// One messages row: the metadata, and what else `Columns` asked for.
struct MessageRow {
  MessageInfo info;
  std::string blob;
  std::string prefix;
  std::string summary;
  std::string content_hash;  // "" when not known yet (messages stored by schema version 1)
};

MessageRow read_message(const Stmt& st, Columns columns) {
  MessageRow row;
  row.info.uid = Uid(st.column_int(0));
  row.info.modseq = ModSeq(st.column_int(1));
  row.info.flags.system = uint8_t(st.column_int(2));
  row.info.flags.keywords = split_keywords(st.column_text(3));
  row.info.internal_date = st.column_int(4);
  row.info.save_date = st.column_int(5);
  row.info.size = uint64_t(st.column_int(6));
  if (columns == Columns::kSummary) {
    row.summary = st.column_blob(7);
    return row;
  }
  if (columns == Columns::kMeta) return row;
  row.blob = st.column_text(7);
  if (columns == Columns::kAll) {
    row.prefix = st.column_blob(8);
    row.summary = st.column_blob(9);
    row.content_hash = st.column_text(10);
  }
  return row;
}

// The rows of `mailbox` whose UID is in `uids` (ascending), read over the UID range they span.
Result<std::vector<MessageRow>> rows_for(Db& db, MailboxId mailbox, const std::vector<Uid>& uids, Columns columns) {
  std::vector<MessageRow> out;
  if (uids.empty()) return out;
  const std::string_view select = columns == Columns::kMeta      ? kMetaColumns
                                  : columns == Columns::kInfo    ? kInfoColumns
                                  : columns == Columns::kSummary ? kSummaryColumns
                                                                 : kMessageColumns;
  auto st = db.prepare(std::string(select) +
                       "WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid");
  if (!st) return st.error();
  const auto [lo, hi] = std::minmax_element(uids.begin(), uids.end());
  st->bind(1, mailbox).bind(2, int64_t(*lo)).bind(3, int64_t(*hi));
  const bool sorted = std::is_sorted(uids.begin(), uids.end());
  std::vector<Uid> sorted_uids;
  if (!sorted) {
    sorted_uids = uids;
    std::sort(sorted_uids.begin(), sorted_uids.end());
  }
  const std::vector<Uid>& wanted = sorted ? uids : sorted_uids;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const Uid uid = Uid(st->column_int(0));
    if (std::binary_search(wanted.begin(), wanted.end(), uid)) out.push_back(read_message(*st, columns));
  }
  return out;
}

Result<MailboxRow> mailbox_row(Db& db, MailboxId id) {
  auto st = db.prepare(std::string(kMailboxColumns) + "WHERE m.id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return no_mailbox();
  return read_mailbox(*st);
}

Result<std::vector<MailboxRow>> all_mailboxes(Db& db) {
  auto st = db.prepare(std::string(kMailboxColumns) + "ORDER BY m.name");
  if (!st) return st.error();
  std::vector<MailboxRow> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read_mailbox(*st));
  }
}

const MailboxRow* by_name(const std::vector<MailboxRow>& all, std::string_view name) {
  for (const auto& m : all) {
    if (m.info.name == name) return &m;
  }
  return nullptr;
}

Result<uint32_t> next_uid_validity(Db& db, int64_t now) {
  auto st = db.prepare("SELECT last_uid_validity FROM account WHERE id = 1");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  const int64_t last = *row ? st->column_int(0) : 0;
  const int64_t next = std::max<int64_t>(now, last + 1);
  if (next > int64_t(std::numeric_limits<uint32_t>::max())) {
    return make_error(Errc::kInternal, "UIDVALIDITY exhausted");
  }
  auto up = db.prepare("UPDATE account SET last_uid_validity = ?1 WHERE id = 1");
  if (!up) return up.error();
  up->bind(1, next);
  if (auto r = up->run(); !r) return r.error();
  return uint32_t(next);
}

Result<MailboxId> insert_mailbox(Db& db, std::string_view name, SpecialUse use, int64_t now) {
  auto validity = next_uid_validity(db, now);
  if (!validity) return validity.error();
  auto st = db.prepare(
      "INSERT INTO mailboxes (name, uid_validity, uid_next, highest_modseq, special_use, first_recent) "
      "VALUES (?1, ?2, 1, 1, ?3, 1)");
  if (!st) return st.error();
  st->bind(1, name).bind(2, int64_t(*validity)).bind(3, int64_t(use));
  if (auto r = st->run(); !r) return r.error();
  return db.last_insert_rowid();
}

// Creates every missing ancestor of `name` (not `name` itself).
Result<void> create_parents(Db& db, const std::vector<MailboxRow>& all, std::string_view name, int64_t now) {
  for (std::size_t pos = name.find(kSeparator); pos != std::string_view::npos; pos = name.find(kSeparator, pos + 1)) {
    const std::string_view parent = name.substr(0, pos);
    if (by_name(all, parent) != nullptr) continue;
    auto exists = find_mailbox(db, parent);  // created earlier in this loop
    if (exists) continue;
    if (exists.error().code != Errc::kNotFound) return exists.error();
    if (auto r = insert_mailbox(db, parent, SpecialUse::kNone, now); !r) return r.error();
  }
  return {};
}

Result<void> update_mailbox_counters(Db& db, MailboxId id, Uid uid_next, ModSeq highest_modseq) {
  auto st = db.prepare("UPDATE mailboxes SET uid_next = ?2, highest_modseq = ?3 WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id).bind(2, int64_t(uid_next)).bind(3, int64_t(highest_modseq));
  return st->run();
}

Result<void> add_totals(Db& db, int64_t bytes, int64_t messages) {
  auto st = db.prepare("UPDATE account SET storage_bytes = storage_bytes + ?1, messages = messages + ?2 WHERE id = 1");
  if (!st) return st.error();
  st->bind(1, bytes).bind(2, messages);
  return st->run();
}

// kOverQuota when adding `bytes` and `messages` to the totals would pass `limits` (0 = unlimited).
Result<void> check_quota(Db& db, const Limits& limits, uint64_t bytes, uint64_t messages) {
  if (limits.storage_bytes == 0 && limits.messages == 0) return {};
  auto used = usage(db);
  if (!used) return used.error();
  if (limits.storage_bytes != 0 && used->storage_bytes + bytes > limits.storage_bytes) {
    return make_error(Errc::kOverQuota, "mailbox storage quota exceeded");
  }
  if (limits.messages != 0 && used->messages + messages > limits.messages) {
    return make_error(Errc::kOverQuota, "mailbox message count quota exceeded");
  }
  return {};
}

Result<void> check_uid_room(Uid uid_next, std::size_t count) {
  if (uint64_t(uid_next) + count > uint64_t(std::numeric_limits<Uid>::max())) {
    return make_error(Errc::kTooBig, "mailbox has used up its UIDs");
  }
  return {};
}

struct InsertStmts {
  Stmt message;
  Stmt bytes;
};

Result<InsertStmts> insert_message_stmt(Db& db) {
  auto message = db.prepare(
      "INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, save_date, size, blob) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!message) return message.error();
  auto bytes = db.prepare(
      "INSERT INTO message_bytes (mailbox_id, uid, prefix, summary, content_hash) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!bytes) return bytes.error();
  return InsertStmts{std::move(*message), std::move(*bytes)};
}

Result<void> insert_message(InsertStmts& st, MailboxId mailbox, Uid uid, ModSeq modseq, const Flags& flags,
                            int64_t internal_date, int64_t save_date, uint64_t size, std::string_view blob,
                            std::string_view prefix, std::string_view summary, std::string_view content_hash) {
  st.message.reset();
  st.message.bind(1, mailbox).bind(2, int64_t(uid)).bind(3, int64_t(modseq)).bind(4, int64_t(flags.system));
  st.message.bind(5, join_keywords(flags.keywords)).bind(6, internal_date).bind(7, save_date).bind(8, int64_t(size));
  st.message.bind(9, blob);
  if (auto r = st.message.run(); !r) return r;
  st.bytes.reset();
  st.bytes.bind(1, mailbox).bind(2, int64_t(uid)).bind_blob(3, prefix).bind_blob(4, summary);
  if (content_hash.empty()) {
    st.bytes.bind_null(5);
  } else {
    st.bytes.bind(5, content_hash);
  }
  return st.bytes.run();
}

// Deletes `uids` (which exist) from `mailbox`, logs them as expunged at `modseq` and updates the totals.
Result<void> remove_messages(Db& db, MailboxId mailbox, const std::vector<MessageRow>& rows, ModSeq modseq,
                             bool adjust_totals) {
  auto del = db.prepare("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2");
  if (!del) return del.error();
  auto log = db.prepare("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)");
  if (!log) return log.error();
  int64_t bytes = 0;
  for (const auto& row : rows) {
    del->reset();
    del->bind(1, mailbox).bind(2, int64_t(row.info.uid));
    if (auto r = del->run(); !r) return r;
    log->reset();
    log->bind(1, mailbox).bind(2, int64_t(row.info.uid)).bind(3, int64_t(modseq));
    if (auto r = log->run(); !r) return r;
    bytes += int64_t(row.info.size);
  }
  if (!adjust_totals) return {};
  return add_totals(db, -bytes, -int64_t(rows.size()));
}

}  // namespace

Result<void> init(Db& db, int64_t now) {
  const Migration steps[] = {
      // 0 -> 1: the tables and the default mailboxes, all subscribed.
      {kSchema,
       [now](Db& d) -> Result<void> {
         for (const auto& m : kDefaults) {
           if (auto r = insert_mailbox(d, m.name, m.use, now); !r) return r.error();
           if (auto r = set_subscribed(d, m.name, true); !r) return r;
         }
         return {};
       }},
      // 1 -> 2
      {kSchemaV2},
  };
  static_assert(sizeof(steps) / sizeof(steps[0]) == kSchemaVersion);
  return db.migrate("account index", steps);
}

Result<std::vector<MailboxInfo>> list_mailboxes(Db& db) {
  auto rows = all_mailboxes(db);
  if (!rows) return rows.error();
  std::vector<MailboxInfo> out;
  out.reserve(rows->size());
  for (auto& r : *rows) out.push_back(std::move(r.info));
  return out;
}

Result<MailboxInfo> find_mailbox(Db& db, std::string_view canonical_name) {
  auto st = db.prepare(std::string(kMailboxColumns) + "WHERE m.name = ?1");
  if (!st) return st.error();
  st->bind(1, canonical_name);
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return no_mailbox();
  return read_mailbox(*st).info;
}

Result<MailboxInfo> mailbox_by_id(Db& db, MailboxId id) {
  auto row = mailbox_row(db, id);
  if (!row) return row.error();
  return std::move(row->info);
}

Result<MailboxInfo> create_mailbox(Db& db, std::string_view name, SpecialUse use, int64_t now) {
  auto all = all_mailboxes(db);
  if (!all) return all.error();
  if (by_name(*all, name) != nullptr) return make_error(Errc::kExists, "mailbox already exists");
  if (auto r = create_parents(db, *all, name, now); !r) return r.error();
  auto id = insert_mailbox(db, name, use, now);
  if (!id) return id.error();
  return mailbox_by_id(db, *id);
}

Result<std::vector<MailboxId>> rename_mailbox(Db& db, std::string_view from, std::string_view to, int64_t now) {
  auto all = all_mailboxes(db);
  if (!all) return all.error();
  const MailboxRow* source = by_name(*all, from);
  if (source == nullptr) return no_mailbox();
  if (by_name(*all, to) != nullptr) return make_error(Errc::kExists, "target mailbox already exists");
  std::vector<MailboxId> changed;

  if (from == "INBOX") {
    // RFC 9051 §6.3.6: the messages move to a new mailbox, INBOX stays (empty); its children stay.
    if (auto r = create_parents(db, *all, to, now); !r) return r.error();
    auto dest = insert_mailbox(db, to, SpecialUse::kNone, now);
    if (!dest) return dest.error();
    auto uids = db.prepare("SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid");
    if (!uids) return uids.error();
    uids->bind(1, source->info.id);
    std::vector<Uid> all_uids;
    for (;;) {
      auto row = uids->step();
      if (!row) return row.error();
      if (!*row) break;
      all_uids.push_back(Uid(uids->column_int(0)));
    }
    if (auto r = index::copy(db, source->info.id, all_uids, *dest, Limits{}, true, now); !r) return r.error();
    return std::vector<MailboxId>{source->info.id, *dest};
  }

  if (is_under(to, from)) return make_error(Errc::kInvalid, "cannot move a mailbox into itself");
  std::vector<std::pair<const MailboxRow*, std::string>> moves;
  for (const auto& m : *all) {
    if (m.info.name != from && !is_under(m.info.name, from)) continue;
    std::string new_name = std::string(to) + m.info.name.substr(from.size());
    if (by_name(*all, new_name) != nullptr) return make_error(Errc::kExists, "target mailbox already exists");
    moves.emplace_back(&m, std::move(new_name));
  }
  if (auto r = create_parents(db, *all, to, now); !r) return r.error();
  auto up = db.prepare("UPDATE mailboxes SET name = ?2 WHERE id = ?1");
  if (!up) return up.error();
  auto sub = db.prepare("UPDATE OR REPLACE subscriptions SET name = ?2 WHERE name = ?1");
  if (!sub) return sub.error();
  for (const auto& [m, new_name] : moves) {
    up->reset();
    up->bind(1, m->info.id).bind(2, new_name);
    if (auto r = up->run(); !r) return r.error();
    sub->reset();
    sub->bind(1, m->info.name).bind(2, new_name);
    if (auto r = sub->run(); !r) return r.error();
    changed.push_back(m->info.id);
  }
  return changed;
}

Result<MailboxId> delete_mailbox(Db& db, std::string_view name) {
  if (name == "INBOX") return make_error(Errc::kDenied, "INBOX cannot be deleted");
  auto all = all_mailboxes(db);
  if (!all) return all.error();
  const MailboxRow* box = by_name(*all, name);
  if (box == nullptr) return no_mailbox();
  for (const auto& m : *all) {
    if (is_under(m.info.name, name)) return make_error(Errc::kConflict, "mailbox has child mailboxes");
  }
  auto sums = db.prepare("SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE mailbox_id = ?1");
  if (!sums) return sums.error();
  sums->bind(1, box->info.id);
  auto row = sums->step();
  if (!row) return row.error();
  const int64_t count = sums->column_int(0);
  const int64_t bytes = sums->column_int(1);
  sums->reset();
  if (auto r = add_totals(db, -bytes, -count); !r) return r.error();
  for (std::string_view sql : {"DELETE FROM messages WHERE mailbox_id = ?1", "DELETE FROM expunged WHERE mailbox_id = ?1",
                               "DELETE FROM mailboxes WHERE id = ?1"}) {
    auto st = db.prepare(sql);
    if (!st) return st.error();
    st->bind(1, box->info.id);
    if (auto r = st->run(); !r) return r.error();
  }
  return box->info.id;
}

Result<void> set_subscribed(Db& db, std::string_view name, bool subscribed) {
  auto st = db.prepare(subscribed ? "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)"
                                  : "DELETE FROM subscriptions WHERE name = ?1");
  if (!st) return st.error();
  st->bind(1, name);
  return st->run();
}

Result<std::vector<std::string>> list_subscriptions(Db& db) {
  return db.column_texts("SELECT name FROM subscriptions ORDER BY name");
}

Result<MailboxView> select(Db& db, MailboxId mailbox, bool claim_recent) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  MailboxView view;
  view.mailbox = box->info;
  auto st = db.prepare(std::string(kMetaColumns) + "WHERE mailbox_id = ?1 ORDER BY uid");
  if (!st) return st.error();
  st->bind(1, mailbox);
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    view.messages.push_back(read_message(*st, Columns::kMeta).info);
  }
  if (!view.messages.empty() && view.messages.back().uid >= box->first_recent) view.first_recent = box->first_recent;
  if (claim_recent && box->first_recent < box->info.uid_next) {
    auto up = db.prepare("UPDATE mailboxes SET first_recent = uid_next WHERE id = ?1");
    if (!up) return up.error();
    up->bind(1, mailbox);
    if (auto r = up->run(); !r) return r.error();
  }
  return view;
}

Result<MailboxStatus> status(Db& db, MailboxId mailbox) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  auto st = db.prepare(
      "SELECT count(*), coalesce(sum(size), 0), coalesce(sum((flags & ?2) = 0), 0), coalesce(sum(uid >= ?3), 0), "
      "coalesce(sum((flags & ?4) != 0), 0), coalesce(sum(CASE WHEN (flags & ?4) != 0 THEN size ELSE 0 END), 0) "
      "FROM messages WHERE mailbox_id = ?1");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, int64_t(kSeen)).bind(3, int64_t(box->first_recent)).bind(4, int64_t(kDeleted));
  auto row = st->step();
  if (!row) return row.error();
  MailboxStatus s;
  s.messages = uint32_t(st->column_int(0));
  s.size = uint64_t(st->column_int(1));
  s.unseen = uint32_t(st->column_int(2));
  s.recent = uint32_t(st->column_int(3));
  s.deleted = uint32_t(st->column_int(4));
  s.deleted_size = uint64_t(st->column_int(5));
  s.uid_next = box->info.uid_next;
  s.uid_validity = box->info.uid_validity;
  s.highest_modseq = box->info.highest_modseq;
  return s;
}

Result<std::vector<MessageData>> fetch(Db& db, MailboxId mailbox, const std::vector<Uid>& uids, bool with_summary) {
  if (auto box = mailbox_row(db, mailbox); !box) return box.error();
  auto rows = rows_for(db, mailbox, uids, with_summary ? Columns::kSummary : Columns::kMeta);
  if (!rows) return rows.error();
  std::vector<MessageData> out;
  out.reserve(rows->size());
  for (auto& r : *rows) out.push_back(MessageData{std::move(r.info), std::move(r.summary)});
  return out;
}

Result<std::vector<MessageData>> summaries(Db& db, MailboxId mailbox, const std::vector<Uid>& uids) {
  if (auto box = mailbox_row(db, mailbox); !box) return box.error();
  std::vector<MessageData> out;
  if (uids.empty()) return out;
  // One table, one range: no join with the message rows (the caller has their metadata).
  auto st = db.prepare("SELECT uid, summary FROM message_bytes WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 "
                       "ORDER BY uid");
  if (!st) return st.error();
  std::vector<Uid> wanted = uids;
  std::sort(wanted.begin(), wanted.end());
  st->bind(1, mailbox).bind(2, int64_t(wanted.front())).bind(3, int64_t(wanted.back()));
  out.reserve(wanted.size());
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const Uid uid = Uid(st->column_int(0));
    if (!std::binary_search(wanted.begin(), wanted.end(), uid)) continue;
    MessageData& m = out.emplace_back();
    m.info.uid = uid;
    m.summary = st->column_blob(1);
  }
  return out;
}

Result<MessageLocation> locate(Db& db, MailboxId mailbox, Uid uid) {
  auto st = db.prepare("SELECT blob, prefix FROM messages JOIN message_bytes USING (mailbox_id, uid) "
                       "WHERE mailbox_id = ?1 AND uid = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, int64_t(uid));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return make_error(Errc::kNotFound, "no such message");
  return MessageLocation{st->column_text(0), st->column_blob(1)};
}

Result<std::vector<AppendResult>> append(Db& db, MailboxId mailbox, const std::vector<NewMessage>& messages,
                                         const Limits& limits, int64_t now) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  uint64_t bytes = 0;
  for (const auto& m : messages) bytes += m.size;
  if (auto r = check_quota(db, limits, bytes, messages.size()); !r) return r.error();
  if (auto r = check_uid_room(box->info.uid_next, messages.size()); !r) return r.error();
  std::vector<AppendResult> out;
  if (messages.empty()) return out;
  const ModSeq modseq = box->info.highest_modseq + 1;
  Uid uid = box->info.uid_next;
  auto ins = insert_message_stmt(db);
  if (!ins) return ins.error();
  for (const auto& m : messages) {
    if (auto r = insert_message(*ins, mailbox, uid, modseq, m.flags, m.internal_date, now, m.size, m.blob_id,
                                m.prefix, m.summary, m.content_hash);
        !r) {
      return r.error();
    }
    out.push_back(AppendResult{box->info.uid_validity, uid, modseq});
    ++uid;
  }
  if (auto r = update_mailbox_counters(db, mailbox, uid, modseq); !r) return r.error();
  if (auto r = add_totals(db, int64_t(bytes), int64_t(messages.size())); !r) return r.error();
  return out;
}

Result<StoreResult> store_flags(Db& db, MailboxId mailbox, const StoreFlags& request) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  auto rows = rows_for(db, mailbox, request.uids, Columns::kMeta);
  if (!rows) return rows.error();
  StoreResult result;
  const ModSeq modseq = box->info.highest_modseq + 1;
  auto up = db.prepare("UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5 WHERE mailbox_id = ?1 AND uid = ?2");
  if (!up) return up.error();
  for (auto& row : *rows) {
    if (request.unchanged_since && row.info.modseq > *request.unchanged_since) {
      result.conflicts.push_back(row.info.uid);
      continue;
    }
    Flags updated = apply_flag_op(row.info.flags, request.op, request.flags);
    if (updated == row.info.flags) {
      result.unchanged.push_back(std::move(row.info));
      continue;
    }
    up->reset();
    up->bind(1, mailbox).bind(2, int64_t(row.info.uid)).bind(3, int64_t(updated.system));
    up->bind(4, join_keywords(updated.keywords)).bind(5, int64_t(modseq));
    if (auto r = up->run(); !r) return r.error();
    row.info.flags = std::move(updated);
    row.info.modseq = modseq;
    result.changed.push_back(std::move(row.info));
  }
  result.highest_modseq = box->info.highest_modseq;
  if (!result.changed.empty()) {
    if (auto r = update_mailbox_counters(db, mailbox, box->info.uid_next, modseq); !r) return r.error();
    result.highest_modseq = modseq;
  }
  return result;
}

Result<CopyResult> copy(Db& db, MailboxId source, const std::vector<Uid>& uids, MailboxId dest, const Limits& limits,
                        bool move, int64_t now) {
  auto src_box = mailbox_row(db, source);
  if (!src_box) return src_box.error();
  auto dest_box = mailbox_row(db, dest);
  if (!dest_box) return dest_box.error();
  auto rows = rows_for(db, source, uids, Columns::kAll);
  if (!rows) return rows.error();
  CopyResult result;
  result.uid_validity = dest_box->info.uid_validity;
  if (rows->empty()) return result;
  if (!move) {
    uint64_t bytes = 0;
    for (const auto& r : *rows) bytes += r.info.size;
    if (auto r = check_quota(db, limits, bytes, rows->size()); !r) return r.error();
  }
  if (auto r = check_uid_room(dest_box->info.uid_next, rows->size()); !r) return r.error();
  const ModSeq dest_modseq = dest_box->info.highest_modseq + 1;
  Uid uid = dest_box->info.uid_next;
  auto ins = insert_message_stmt(db);
  if (!ins) return ins.error();
  for (const auto& r : *rows) {
    if (auto ok = insert_message(*ins, dest, uid, dest_modseq, r.info.flags, r.info.internal_date, now, r.info.size,
                                 r.blob, r.prefix, r.summary, r.content_hash);
        !ok) {
      return ok.error();
    }
    result.source.push_back(r.info.uid);
    result.dest.push_back(uid);
    ++uid;
  }
  if (auto r = update_mailbox_counters(db, dest, uid, dest_modseq); !r) return r.error();
  if (!move) {
    int64_t bytes = 0;
    for (const auto& r : *rows) bytes += int64_t(r.info.size);
    if (auto r = add_totals(db, bytes, int64_t(rows->size())); !r) return r.error();
    return result;
  }
  // Re-read: source and dest may be the same mailbox.
  auto after = mailbox_row(db, source);
  if (!after) return after.error();
  const ModSeq src_modseq = after->info.highest_modseq + 1;
  if (auto r = remove_messages(db, source, *rows, src_modseq, false); !r) return r.error();
  if (auto r = update_mailbox_counters(db, source, after->info.uid_next, src_modseq); !r) return r.error();
  return result;
}

Result<ExpungeResult> expunge(Db& db, MailboxId mailbox, const std::optional<std::vector<Uid>>& uids) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  std::vector<MessageRow> rows;
  if (uids) {
    auto found = rows_for(db, mailbox, *uids, Columns::kInfo);
    if (!found) return found.error();
    rows = std::move(*found);
  } else {
    auto st = db.prepare(std::string(kInfoColumns) + "WHERE mailbox_id = ?1 AND (flags & ?2) != 0 ORDER BY uid");
    if (!st) return st.error();
    st->bind(1, mailbox).bind(2, int64_t(kDeleted));
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      rows.push_back(read_message(*st, Columns::kInfo));
    }
  }
  std::erase_if(rows, [](const MessageRow& r) { return !r.info.flags.has(kDeleted); });
  ExpungeResult result;
  result.highest_modseq = box->info.highest_modseq;
  if (rows.empty()) return result;
  const ModSeq modseq = box->info.highest_modseq + 1;
  if (auto r = remove_messages(db, mailbox, rows, modseq, true); !r) return r.error();
  if (auto r = update_mailbox_counters(db, mailbox, box->info.uid_next, modseq); !r) return r.error();
  for (const auto& r : rows) result.expunged.push_back(r.info.uid);
  result.highest_modseq = modseq;
  return result;
}

Result<std::optional<UidRange>> claim_recent(Db& db, MailboxId mailbox, Uid below) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  std::optional<UidRange> claimed;
  if (box->first_recent >= below) return claimed;
  auto up = db.prepare("UPDATE mailboxes SET first_recent = ?2 WHERE id = ?1");
  if (!up) return up.error();
  up->bind(1, mailbox).bind(2, int64_t(below));
  if (auto r = up->run(); !r) return r.error();
  claimed = UidRange{box->first_recent, below - 1};
  return claimed;
}

Result<Changes> changes_since(Db& db, MailboxId mailbox, ModSeq since, Uid* first_recent) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  if (first_recent != nullptr) *first_recent = box->first_recent;
  Changes out;
  out.highest_modseq = box->info.highest_modseq;
  out.uid_next = box->info.uid_next;
  auto st = db.prepare(std::string(kMetaColumns) + "WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, int64_t(since));
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.changed.push_back(read_message(*st, Columns::kMeta).info);
  }
  auto gone = db.prepare("SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid");
  if (!gone) return gone.error();
  gone->bind(1, mailbox).bind(2, int64_t(since));
  for (;;) {
    auto row = gone->step();
    if (!row) return row.error();
    if (!*row) break;
    out.vanished.push_back(Uid(gone->column_int(0)));
  }
  return out;
}

Result<QuotaUsage> usage(Db& db) {
  auto st = db.prepare("SELECT storage_bytes, messages FROM account WHERE id = 1");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  QuotaUsage q;
  if (*row) {
    q.storage_bytes = uint64_t(st->column_int(0));
    q.messages = uint64_t(st->column_int(1));
  }
  return q;
}

Result<std::vector<std::string>> referenced_blobs(Db& db) {
  return db.column_texts("SELECT DISTINCT blob FROM messages");
}

Result<MaildropView> maildrop(Db& db, MailboxId mailbox) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  auto st = db.prepare(
      "SELECT m.uid, m.size, b.content_hash, coalesce(p.retrieved_at, 0), m.flags FROM messages m "
      "JOIN message_bytes b ON b.mailbox_id = m.mailbox_id AND b.uid = m.uid "
      "LEFT JOIN pop3_state p ON p.mailbox_id = m.mailbox_id AND p.uid = m.uid "
      "WHERE m.mailbox_id = ?1 AND coalesce(p.hidden, 0) = 0 ORDER BY m.uid");
  if (!st) return st.error();
  st->bind(1, mailbox);
  MaildropView view;
  view.uid_validity = box->info.uid_validity;
  auto policy = db.column_texts("SELECT pop3_policy FROM account WHERE id = 1");
  if (!policy) return policy.error();
  if (!policy->empty()) view.pop3_policy = policy->front();
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    view.messages.push_back(MaildropEntry{Uid(st->column_int(0)), uint64_t(st->column_int(1)), st->column_text(2),
                                          st->column_int(3), (st->column_int(4) & kSeen) != 0});
  }
  return view;
}

Result<void> set_pop3_policy(Db& db, std::string_view policy) {
  auto st = db.prepare("UPDATE account SET pop3_policy = ?1 WHERE id = 1");
  if (!st) return st.error();
  st->bind(1, policy);
  return st->run();
}

Result<void> set_content_hash(Db& db, MailboxId mailbox, Uid uid, std::string_view hash) {
  auto st = db.prepare("UPDATE message_bytes SET content_hash = ?3 WHERE mailbox_id = ?1 AND uid = ?2");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, int64_t(uid)).bind(3, hash);
  return st->run();
}

Result<MaildropCommit> commit_maildrop(Db& db, MailboxId mailbox, const MaildropUpdate& update) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  MaildropCommit out;
  out.highest_modseq = box->info.highest_modseq;
  // Messages another session expunged meanwhile are skipped: the SELECT finds no row to mark.
  auto mark = db.prepare(
      "INSERT INTO pop3_state (mailbox_id, uid, retrieved_at, hidden) "
      "SELECT mailbox_id, uid, ?3, ?4 FROM messages WHERE mailbox_id = ?1 AND uid = ?2 "
      "ON CONFLICT (mailbox_id, uid) DO UPDATE SET "
      "retrieved_at = CASE WHEN retrieved_at = 0 THEN excluded.retrieved_at ELSE retrieved_at END, "
      "hidden = max(hidden, excluded.hidden)");
  if (!mark) return mark.error();
  auto run_mark = [&](Uid uid, int64_t retrieved_at, bool hidden) -> Result<void> {
    mark->reset();
    mark->bind(1, mailbox).bind(2, int64_t(uid)).bind(3, retrieved_at).bind(4, int64_t(hidden ? 1 : 0));
    return mark->run();
  };
  for (Uid uid : update.retrieved) {
    if (auto r = run_mark(uid, update.now, false); !r) return r.error();
  }
  std::vector<Uid> remove;
  if (update.remove_deleted) {
    remove = update.deleted;
  } else {
    for (Uid uid : update.deleted) {
      if (auto r = run_mark(uid, 0, true); !r) return r.error();
    }
  }
  if (update.expire_retrieved_before) {
    auto expired = db.prepare(
        "SELECT uid FROM pop3_state WHERE mailbox_id = ?1 AND retrieved_at > 0 AND retrieved_at < ?2");
    if (!expired) return expired.error();
    expired->bind(1, mailbox).bind(2, *update.expire_retrieved_before);
    for (;;) {
      auto row = expired->step();
      if (!row) return row.error();
      if (!*row) break;
      remove.push_back(Uid(expired->column_int(0)));
    }
  }
  std::sort(remove.begin(), remove.end());
  remove.erase(std::unique(remove.begin(), remove.end()), remove.end());
  if (update.mark_seen && !update.retrieved.empty()) {
    StoreFlags seen;
    for (Uid uid : update.retrieved) {
      if (!std::binary_search(remove.begin(), remove.end(), uid)) seen.uids.push_back(uid);
    }
    std::sort(seen.uids.begin(), seen.uids.end());
    seen.flags.system = kSeen;
    auto flagged = store_flags(db, mailbox, seen);
    if (!flagged) return flagged.error();
    for (const auto& m : flagged->changed) out.result.seen.push_back(m.uid);
    out.highest_modseq = flagged->highest_modseq;
    box = mailbox_row(db, mailbox);  // the modseq moved on
    if (!box) return box.error();
  }
  auto rows = rows_for(db, mailbox, remove, Columns::kInfo);
  if (!rows) return rows.error();
  if (!update.remove_deleted) {
    for (Uid uid : update.deleted) {
      if (!std::binary_search(remove.begin(), remove.end(), uid)) out.result.hidden.push_back(uid);
    }
    std::sort(out.result.hidden.begin(), out.result.hidden.end());
  }
  if (rows->empty()) return out;
  const ModSeq modseq = box->info.highest_modseq + 1;
  if (auto r = remove_messages(db, mailbox, *rows, modseq, true); !r) return r.error();
  if (auto r = update_mailbox_counters(db, mailbox, box->info.uid_next, modseq); !r) return r.error();
  for (const auto& r : *rows) out.result.removed.push_back(r.info.uid);
  out.highest_modseq = modseq;
  return out;
}

// ---- Moving an installation ----

Result<std::vector<MessageInfo>> image_page(Db& db, MailboxId mailbox, Uid after, std::size_t limit) {
  if (auto box = mailbox_row(db, mailbox); !box) return box.error();
  auto st = db.prepare(std::string(kMetaColumns) + "WHERE mailbox_id = ?1 AND uid > ?2 ORDER BY uid LIMIT ?3");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, int64_t(after)).bind(3, int64_t(limit));
  std::vector<MessageInfo> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read_message(*st, Columns::kMeta).info);
  }
}

Result<MailboxInfo> restore_mailbox(Db& db, const MailboxInfo& info, int64_t now) {
  if (auto r = check_restore_mailbox(info); !r) return r.error();
  auto all = all_mailboxes(db);
  if (!all) return all.error();
  MailboxId id = 0;
  if (const MailboxRow* existing = by_name(*all, info.name)) {
    auto count = db.prepare("SELECT count(*) FROM messages WHERE mailbox_id = ?1");
    if (!count) return count.error();
    count->bind(1, existing->info.id);
    auto row = count->step();
    if (!row) return row.error();
    if (count->column_int(0) != 0) {
      return make_error(Errc::kConflict, "mailbox " + info.name + " holds messages: restoring never merges");
    }
    id = existing->info.id;
  } else {
    if (auto r = create_parents(db, *all, info.name, now); !r) return r.error();
    auto made = insert_mailbox(db, info.name, info.special_use, now);
    if (!made) return made.error();
    id = *made;
  }
  auto st = db.prepare(
      "UPDATE mailboxes SET uid_validity = ?2, uid_next = ?3, highest_modseq = ?4, special_use = ?5, "
      "first_recent = ?3 WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id).bind(2, int64_t(info.uid_validity)).bind(3, int64_t(info.uid_next));
  st->bind(4, int64_t(info.highest_modseq)).bind(5, int64_t(info.special_use));
  if (auto r = st->run(); !r) return r.error();
  auto last = db.prepare("UPDATE account SET last_uid_validity = max(last_uid_validity, ?1) WHERE id = 1");
  if (!last) return last.error();
  last->bind(1, int64_t(info.uid_validity));
  if (auto r = last->run(); !r) return r.error();
  return mailbox_by_id(db, id);
}

Result<ModSeq> restore_messages(Db& db, MailboxId mailbox, const std::vector<RestoredMessage>& given,
                                const std::vector<RestoredRow>& rows) {
  auto box = mailbox_row(db, mailbox);
  if (!box) return box.error();
  auto max_uid = db.prepare("SELECT coalesce(max(uid), 0) FROM messages WHERE mailbox_id = ?1");
  if (!max_uid) return max_uid.error();
  max_uid->bind(1, mailbox);
  if (auto row = max_uid->step(); !row) return row.error();
  if (auto r = check_restore(given, box->info, Uid(max_uid->column_int(0))); !r) return r.error();
  auto ins = insert_message_stmt(db);
  if (!ins) return ins.error();
  int64_t bytes = 0;
  for (const auto& m : rows) {
    if (auto r = insert_message(*ins, mailbox, m.uid, m.modseq, m.flags, m.internal_date, m.save_date, m.size,
                                m.blob_id, m.prefix, m.summary, m.content_hash);
        !r) {
      return r.error();
    }
    bytes += int64_t(m.size);
  }
  if (auto r = add_totals(db, bytes, int64_t(rows.size())); !r) return r.error();
  auto recent = db.prepare("UPDATE mailboxes SET first_recent = uid_next WHERE id = ?1");
  if (!recent) return recent.error();
  recent->bind(1, mailbox);
  if (auto r = recent->run(); !r) return r.error();
  return box->info.highest_modseq;
}

}  // namespace posthorn::store::sqlite::index
