// Implementation notes
// - Every query is sent in binary result format with its numeric columns cast to text: the octets of
//   a text value in binary format are its text, and bytea columns (prefix, summary, chunks) arrive
//   as raw bytes without hex escaping. Rows::integer() parses the digits.
// - One modseq per operation and mailbox, as in the SQLite backend: every message an operation
//   changes gets highest_modseq + 1; a new mailbox starts at highest_modseq 1 and uid_next 1.
// - UIDVALIDITY comes from mail_account.last_uid_validity: max(now, last + 1).
// - Write transactions lock the account row first (lock_account), so under that lock the rows of
//   the account's mailboxes only change by this transaction; claiming \Recent (select, changes_since)
//   touches only mailbox.first_recent and locks just that row.
// - Blobs: a new message's blob is upserted (INSERT ... ON CONFLICT DO UPDATE refcount + n RETURNING
//   whether it was inserted); only the inserting transaction writes the chunks. A concurrent
//   transaction that removes the blob's last reference holds the row locked until it commits, and
//   the upsert waits for it and then inserts afresh, so a committed message never names a missing
//   blob. Blob rows are locked in hash order, before message rows that reference them are inserted.
// - g++ 12 (DESIGN.md §3, pg_client.hpp): co_await only as a statement or a plain initializer, no
//   braced lists, aggregate temporaries or lambdas (run_blocking's: made first, then awaited) inside
//   co_await expressions, no capturing lambda
//   coroutines (the lambdas below are plain functions returning the Task of a named coroutine).
#include "store/pg/pg_mail_store.hpp"

// g++ 12's false maybe-uninitialized on Result<void> in coroutine frames (as in pg_client.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include "base/ascii.hpp"
#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/random.hpp"
#include "mime/summary.hpp"
#include "store/pg/pg_mail_schema.hpp"
#include "store/pg/pg_schema.hpp"
#include "store/pg/pg_transaction.hpp"
#include "store/prepare.hpp"

namespace posthorn::store::pg {

namespace asio = boost::asio;

struct PgShared {
  PgShared(asio::any_io_executor ex, PgMailStoreOptions opts, BlockingPool& b)
      : executor(std::move(ex)), options(std::move(opts)), blocking(b), pool(executor, options.pool) {}
  asio::any_io_executor executor;
  PgMailStoreOptions options;
  BlockingPool& blocking;
  Pool pool;
  LocalChangeFeed feed;
  const std::string node = random_token(16);
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> remote_events{0};
  std::mutex known_mu;
  std::set<AccountId> known;  // accounts whose row exists (guarded by known_mu)
  // Account objects in use (guarded by known_mu): account() hands out the same one and updates its
  // limits, so a Mailbox opened earlier sees the new quota.
  std::map<AccountId, std::weak_ptr<Account>> live;
};

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Error no_mailbox() { return make_error(Errc::kNotFound, "no such mailbox"); }
Error account_gone() { return make_error(Errc::kNotFound, "no such account"); }

struct DefaultMailbox {
  std::string_view name;
  SpecialUse use;
};
constexpr DefaultMailbox kDefaults[] = {
    {"INBOX", SpecialUse::kNone}, {"Sent", SpecialUse::kSent},   {"Drafts", SpecialUse::kDrafts},
    {"Trash", SpecialUse::kTrash}, {"Junk", SpecialUse::kJunk}, {"Archive", SpecialUse::kArchive},
};

constexpr std::string_view kMailboxSelect =
    "SELECT m.id::text, m.name, m.uid_validity::text, m.uid_next::text, m.highest_modseq::text, "
    "m.special_use::text, m.first_recent::text, "
    "(EXISTS (SELECT 1 FROM subscription s WHERE s.account = m.account AND s.name = m.name))::int::text "
    "FROM mailbox m ";
constexpr std::string_view kMeta =
    "uid::text, modseq::text, flags::text, keywords, internal_date::text, save_date::text, size::text";

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

// PostgreSQL array literals for $n::bigint[] parameters (text arrays: pg_client's text_array).
template <class Int>
std::string int_array(const std::vector<Int>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

struct MailboxRow {
  MailboxInfo info;
  Uid first_recent = 1;
};

MailboxRow read_mailbox(const Rows& r, int i) {
  MailboxRow row;
  row.info.id = r.integer(i, 0);
  row.info.name = std::string(r.text(i, 1));
  row.info.uid_validity = uint32_t(r.integer(i, 2));
  row.info.uid_next = Uid(r.integer(i, 3));
  row.info.highest_modseq = ModSeq(r.integer(i, 4));
  row.info.special_use = SpecialUse(r.integer(i, 5));
  row.first_recent = Uid(r.integer(i, 6));
  row.info.subscribed = r.integer(i, 7) != 0;
  return row;
}

MessageInfo read_info(const Rows& r, int i) {
  MessageInfo m;
  m.uid = Uid(r.integer(i, 0));
  m.modseq = ModSeq(r.integer(i, 1));
  m.flags.system = uint8_t(r.integer(i, 2));
  m.flags.keywords = split_keywords(r.text(i, 3));
  m.internal_date = r.integer(i, 4);
  m.save_date = r.integer(i, 5);
  m.size = uint64_t(r.integer(i, 6));
  return m;
}

// ---- the message bytes before they are stored ----

// An unnamed temp file holding one normalised spooled message (a big APPEND).
struct TempFile {
  int fd = -1;
  uint64_t size = 0;
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
  }
  // Blocking (pread).
  Result<std::string> read(uint64_t offset, std::size_t n) const {
    if (offset >= size) return std::string();
    n = std::size_t(std::min<uint64_t>(n, size - offset));
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd, out.data() + done, n - done, off_t(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return make_error(Errc::kUnavailable, "cannot read the spooled message");
      done += std::size_t(got);
    }
    return out;
  }
};

Result<std::shared_ptr<TempFile>> make_temp_file(const std::filesystem::path& dir) {
  const std::filesystem::path where = dir.empty() ? std::filesystem::temp_directory_path() : dir;
  auto file = std::make_shared<TempFile>();
  file->fd = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (file->fd < 0) {
    std::string name = (where / "posthorn-pg-XXXXXX").string();
    file->fd = ::mkstemp(name.data());
    if (file->fd >= 0) ::unlink(name.c_str());
  }
  if (file->fd < 0) {
    spdlog::error("mail store: temp file in {}: {}", where.string(), std::strerror(errno));
    return make_error(Errc::kUnavailable, "mail storage unavailable");
  }
  return file;
}

// A message ready for its transaction: the blob's hash and bytes, and what the message row holds.
struct NewMessage : MessageRow {
  std::string blob;                           // lower-case hex SHA-256 of the blob bytes
  std::shared_ptr<const std::string> memory;  // the blob bytes, or
  std::shared_ptr<TempFile> file;             // ... in a temp file
  uint64_t blob_size = 0;
};

// Blocking: the row values of a message whose blob (hash m.blob) holds `bytes` (store/prepare.hpp).
void describe(NewMessage& m, std::string_view bytes, std::string prefix, Flags flags,
              std::optional<int64_t> internal_date, int64_t now, const mime::MessageSummary* parsed = nullptr) {
  m.blob_size = bytes.size();
  static_cast<MessageRow&>(m) =
      describe_message(m.blob, bytes, std::move(prefix), std::move(flags), internal_date, now, parsed);
}

// Blocking: a spooled message normalised (unless binary) into an unnamed temp file, hashed as it is
// written, then mapped (not copied) to be parsed.
Result<NewMessage> prepare_spooled(const std::filesystem::path& dir, const AppendMessage& message, Flags flags,
                                   int64_t now) {
  auto file = make_temp_file(dir);
  if (!file) return file.error();
  Sha256 hash;
  SpoolPieces pieces(*message.spool, message.binary);
  std::string piece;
  for (;;) {
    auto more = pieces.next(piece);
    if (!more) return more.error();
    if (!*more) break;
    hash.update(piece);
    for (std::size_t done = 0; done < piece.size();) {
      const ssize_t w = ::write((*file)->fd, piece.data() + done, piece.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        spdlog::error("mail store: write temp file: {}", std::strerror(errno));
        return make_error(Errc::kUnavailable, "mail storage unavailable");
      }
      done += std::size_t(w);
    }
    (*file)->size += piece.size();
  }
  NewMessage m;
  m.blob = hash.hex();
  void* data = nullptr;
  const std::size_t size = std::size_t((*file)->size);
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, (*file)->fd, 0);
    if (data == MAP_FAILED) return make_error(Errc::kUnavailable, "mail storage unavailable");
  }
  describe(m, std::string_view(static_cast<const char*>(data), size), "", std::move(flags), message.internal_date, now);
  if (data != nullptr) ::munmap(data, size);
  m.file = std::move(*file);
  return m;
}

// Blocking: normalises (unless binary [RFC 3516 §4.3]), hashes and describes one message.
Result<NewMessage> prepare(const std::filesystem::path& dir, AppendMessage& message, Flags flags, int64_t now) {
  if (message.spool) return prepare_spooled(dir, message, std::move(flags), now);
  std::shared_ptr<const std::string> bytes;
  if (!message.binary && has_bare_lf(message.bytes)) {
    bytes = std::make_shared<const std::string>(normalize_crlf(message.bytes));
  } else {
    bytes = std::make_shared<const std::string>(std::move(message.bytes));
  }
  NewMessage m;
  m.blob = sha256_hex(*bytes);
  describe(m, *bytes, "", std::move(flags), message.internal_date, now);
  m.memory = std::move(bytes);
  return m;
}

// ---- transactions ----

template <class T>
using WriteBody = std::function<Task<T>(Connection&, std::vector<ChangeEvent>&)>;
template <class T>
using ReadBody = TxBody<T>;

std::string event_payload(const std::string& node, const ChangeEvent& e) {
  return node + " " + std::to_string(e.account) + " " + std::to_string(e.mailbox) + " " +
         std::to_string(int(e.kind)) + " " + std::to_string(e.modseq);
}

std::optional<std::pair<std::string, ChangeEvent>> parse_payload(std::string_view payload) {
  auto parts = ascii::split(payload, ' ');
  if (parts.size() != 5) return std::nullopt;
  int64_t v[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    auto p = parts[std::size_t(i) + 1];
    if (std::from_chars(p.data(), p.data() + p.size(), v[i]).ec != std::errc()) return std::nullopt;
  }
  if (v[2] < 0 || v[2] > int64_t(ChangeEvent::Kind::kMailboxes)) return std::nullopt;
  ChangeEvent e{v[0], v[1], ChangeEvent::Kind(v[2]), ModSeq(v[3])};
  return std::make_pair(std::string(parts[0]), e);
}

// The body of one attempt of transact(): runs `body`, then sends its events with NOTIFY in the
// same transaction.
template <class T>
Task<T> with_notify(PgShared& s, WriteBody<T>& body, std::vector<ChangeEvent>& events, Connection& c) {
  events.clear();
  auto result = co_await body(c, events);
  if (!result) co_return result;
  for (const auto& e : events) {
    auto sent = co_await c.query("SELECT pg_notify($1, $2)", Param::text(s.options.channel),
                                 Param::text(event_payload(s.node, e)));
    if (!sent) co_return sent.error();
  }
  co_return result;
}

// Runs `body` in one read-write transaction on a pooled connection (pg_transaction.hpp, run again
// after a serialization failure or deadlock); its events go out by NOTIFY in the same transaction
// and, after the commit, on this node's feed.
template <class T>
Task<T> transact(std::shared_ptr<PgShared> s, WriteBody<T> body) {
  std::vector<ChangeEvent> events;
  TxBody<T> attempt = [&s, &body, &events](Connection& c) { return with_notify<T>(*s, body, events, c); };
  auto result = co_await transaction<T>(s->pool, std::move(attempt), "mail store");
  if (result) {
    for (const auto& e : events) s->feed.publish(e);
  }
  co_return result;
}

// Runs `body` in one REPEATABLE READ READ ONLY transaction (one snapshot for all its statements).
template <class T>
Task<T> read_tx(std::shared_ptr<PgShared> s, ReadBody<T> body) {
  auto result = co_await snapshot<T>(s->pool, std::move(body));
  co_return result;
}

// ---- SQL steps (each runs inside the caller's transaction) ----

// Locks the account's row (every write transaction of an account starts here); kNotFound when the
// account does not exist (deleted).
Task<void> lock_account(Connection& c, AccountId account) {
  auto rows = co_await c.query_binary("SELECT id::text FROM mail_account WHERE id = $1 FOR UPDATE", Param::integer(account));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return account_gone();
  co_return Result<void>{};
}

Task<MailboxRow> mailbox_row(Connection& c, AccountId account, MailboxId id, bool for_update = false) {
  const std::string sql =
      std::string(kMailboxSelect) + "WHERE m.id = $1 AND m.account = $2" + (for_update ? " FOR UPDATE OF m" : "");
  auto rows = co_await c.query_binary(sql, Param::integer(id), Param::integer(account));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return no_mailbox();
  co_return read_mailbox(*rows, 0);
}

Task<MailboxInfo> mailbox_by_name(Connection& c, AccountId account, std::string_view name) {
  const std::string sql = std::string(kMailboxSelect) + "WHERE m.account = $1 AND m.name = $2";
  auto rows = co_await c.query_binary(sql, Param::integer(account), Param::text(name));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return no_mailbox();
  co_return read_mailbox(*rows, 0).info;
}

Task<std::vector<MailboxRow>> all_mailboxes(Connection& c, AccountId account) {
  const std::string sql = std::string(kMailboxSelect) + "WHERE m.account = $1 ORDER BY m.name COLLATE \"C\"";
  auto rows = co_await c.query_binary(sql, Param::integer(account));
  if (!rows) co_return rows.error();
  std::vector<MailboxRow> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(read_mailbox(*rows, i));
  co_return out;
}

const MailboxRow* by_name(const std::vector<MailboxRow>& all, std::string_view name) {
  for (const auto& m : all) {
    if (m.info.name == name) return &m;
  }
  return nullptr;
}

Task<MailboxId> insert_mailbox(Connection& c, AccountId account, std::string_view name, SpecialUse use, int64_t now) {
  auto validity = co_await c.query_binary(
      "UPDATE mail_account SET last_uid_validity = greatest($2, last_uid_validity + 1) WHERE id = $1 "
      "RETURNING last_uid_validity::text",
      Param::integer(account), Param::integer(now));
  if (!validity) co_return validity.error();
  if (validity->empty()) co_return account_gone();
  const int64_t v = validity->integer(0, 0);
  if (v > int64_t(std::numeric_limits<uint32_t>::max())) co_return make_error(Errc::kInternal, "UIDVALIDITY exhausted");
  auto id = co_await c.query_binary(
      "INSERT INTO mailbox (account, name, uid_validity, uid_next, highest_modseq, special_use, first_recent) "
      "VALUES ($1, $2, $3, 1, 1, $4, 1) RETURNING id::text",
      Param::integer(account), Param::text(name), Param::integer(v), Param::integer(int64_t(use)));
  if (!id) co_return id.error();
  co_return id->integer(0, 0);
}

// Creates the account's row and default mailboxes (all subscribed) when it has none.
Task<void> ensure_account(Connection& c, AccountId account, int64_t now) {
  auto made = co_await c.query_binary("INSERT INTO mail_account (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING id::text",
                                      Param::integer(account));
  if (!made) co_return made.error();
  if (made->empty()) co_return Result<void>{};
  for (const auto& d : kDefaults) {
    auto id = co_await insert_mailbox(c, account, d.name, d.use, now);
    if (!id) co_return id.error();
    auto sub = co_await c.query("INSERT INTO subscription (account, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                                Param::integer(account), Param::text(d.name));
    if (!sub) co_return sub.error();
  }
  co_return Result<void>{};
}

// Creates every missing ancestor of `name` (not `name` itself).
Task<void> create_parents(Connection& c, AccountId account, const std::vector<MailboxRow>& all, std::string_view name,
                          int64_t now) {
  std::set<std::string, std::less<>> made;
  for (std::size_t pos = name.find(kSeparator); pos != std::string_view::npos; pos = name.find(kSeparator, pos + 1)) {
    const std::string_view parent = name.substr(0, pos);
    if (by_name(all, parent) != nullptr || made.count(parent) != 0) continue;
    auto id = co_await insert_mailbox(c, account, parent, SpecialUse::kNone, now);
    if (!id) co_return id.error();
    made.emplace(parent);
  }
  co_return Result<void>{};
}

// Adds `bytes` and `messages` (either may be negative) to the account's totals; kOverQuota (the
// caller rolls back) when a positive change passes `limits` (0 = unlimited).
Task<void> add_totals(Connection& c, AccountId account, int64_t bytes, int64_t messages, const Limits& limits) {
  auto rows = co_await c.query_binary(
      "UPDATE mail_account SET storage_bytes = storage_bytes + $2, messages = messages + $3 WHERE id = $1 "
      "RETURNING storage_bytes::text, messages::text",
      Param::integer(account), Param::integer(bytes), Param::integer(messages));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return account_gone();
  const uint64_t used_bytes = uint64_t(std::max<int64_t>(0, rows->integer(0, 0)));
  const uint64_t used_messages = uint64_t(std::max<int64_t>(0, rows->integer(0, 1)));
  if (bytes > 0 && limits.storage_bytes != 0 && used_bytes > limits.storage_bytes) {
    co_return make_error(Errc::kOverQuota, "mailbox storage quota exceeded");
  }
  if (messages > 0 && limits.messages != 0 && used_messages > limits.messages) {
    co_return make_error(Errc::kOverQuota, "mailbox message count quota exceeded");
  }
  co_return Result<void>{};
}

struct Allocation {
  Uid first_uid = 0;
  ModSeq modseq = 0;
};

// Takes `count` UIDs (0: none) and the next modseq of the mailbox row.
Task<Allocation> allocate(Connection& c, MailboxId mailbox, std::size_t count) {
  auto rows = co_await c.query_binary(
      "UPDATE mailbox SET uid_next = uid_next + $2, highest_modseq = highest_modseq + 1 WHERE id = $1 "
      "RETURNING (uid_next - $2)::text, highest_modseq::text, uid_next::text",
      Param::integer(mailbox), Param::integer(int64_t(count)));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return no_mailbox();
  if (rows->integer(0, 2) - 1 > int64_t(std::numeric_limits<Uid>::max())) {
    co_return make_error(Errc::kTooBig, "mailbox has used up its UIDs");
  }
  co_return Allocation{Uid(rows->integer(0, 0)), ModSeq(rows->integer(0, 1))};
}

// Changes the reference counts of existing blobs (locked in hash order) and removes those left
// without references (their chunks cascade).
Task<void> adjust_refcounts(Connection& c, const std::map<std::string, int64_t>& deltas) {
  if (deltas.empty()) co_return Result<void>{};
  std::vector<std::string> hashes;
  std::vector<int64_t> counts;
  for (const auto& [h, d] : deltas) {
    hashes.push_back(h);
    counts.push_back(d);
  }
  const std::string hash_list = text_array(hashes);
  auto locked = co_await c.query_binary("SELECT hash FROM blob WHERE hash = ANY($1::text[]) ORDER BY hash FOR UPDATE",
                                        Param::text(hash_list));
  if (!locked) co_return locked.error();
  auto updated = co_await c.query(
      "UPDATE blob SET refcount = blob.refcount + d.delta FROM unnest($1::text[], $2::bigint[]) AS d(hash, delta) "
      "WHERE blob.hash = d.hash",
      Param::text(hash_list), Param::text(int_array(counts)));
  if (!updated) co_return updated.error();
  auto removed = co_await c.query("DELETE FROM blob WHERE hash = ANY($1::text[]) AND refcount <= 0", Param::text(hash_list));
  if (!removed) co_return removed.error();
  co_return Result<void>{};
}

// Writes the chunks of a blob this transaction has just inserted.
Task<void> write_chunks(PgShared& s, Connection& c, const NewMessage& m) {
  int64_t seq = 0;
  for (uint64_t offset = 0; offset < m.blob_size; offset += kBlobChunk, ++seq) {
    std::string piece;
    if (m.memory) {
      piece = m.memory->substr(std::size_t(offset), kBlobChunk);
    } else {
      std::shared_ptr<TempFile> file = m.file;
      auto read_task = run_blocking(s.blocking, [file, offset] { return file->read(offset, kBlobChunk); });
      auto read = co_await std::move(read_task);
      if (!read) co_return read.error();
      piece = std::move(*read);
    }
    auto put = co_await c.query("INSERT INTO blob_chunk (hash, seq, bytes) VALUES ($1, $2, $3)", Param::text(m.blob),
                                Param::integer(seq), Param::bytes(piece));
    if (!put) co_return put.error();
  }
  co_return Result<void>{};
}

// References the blobs of `messages` (inserting and writing the new ones), in hash order.
Task<void> reference_blobs(PgShared& s, Connection& c, const std::vector<const NewMessage*>& messages) {
  std::map<std::string, std::pair<int64_t, const NewMessage*>> by_hash;
  for (const NewMessage* m : messages) {
    auto& entry = by_hash[m->blob];
    ++entry.first;
    entry.second = m;
  }
  for (const auto& [hash, entry] : by_hash) {
    auto rows = co_await c.query_binary(
        "INSERT INTO blob (hash, size, refcount) VALUES ($1, $2, $3) "
        "ON CONFLICT (hash) DO UPDATE SET refcount = blob.refcount + EXCLUDED.refcount RETURNING (xmax = 0)::int::text",
        Param::text(hash), Param::integer(int64_t(entry.second->blob_size)), Param::integer(entry.first));
    if (!rows) co_return rows.error();
    if (rows->integer(0, 0) == 1) {
      auto written = co_await write_chunks(s, c, *entry.second);
      if (!written) co_return written.error();
    }
  }
  co_return Result<void>{};
}

// Inserts the row of one message whose blob is referenced already.
Task<void> insert_message_row(Connection& c, MailboxId mailbox, Uid uid, ModSeq modseq, const NewMessage& m,
                              int64_t save_date) {
  std::vector<Param> params;
  params.push_back(Param::integer(mailbox));
  params.push_back(Param::integer(uid));
  params.push_back(Param::integer(int64_t(modseq)));
  params.push_back(Param::integer(m.flags.system));
  params.push_back(Param::text(join_keywords(m.flags.keywords)));
  params.push_back(Param::integer(m.internal_date));
  params.push_back(Param::integer(save_date));
  params.push_back(Param::integer(int64_t(m.size)));
  params.push_back(Param::text(m.blob));
  params.push_back(Param::bytes(m.prefix));
  params.push_back(Param::bytes(m.summary));
  params.push_back(Param::text(m.content_hash));
  auto put = co_await c.query(
      "INSERT INTO message (mailbox, uid, modseq, flags, keywords, internal_date, save_date, size, blob, prefix, "
      "summary, content_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
      std::move(params));
  if (!put) co_return put.error();
  co_return Result<void>{};
}

// Appends `messages` to `mailbox` (all or nothing; the caller has no account lock yet).
Task<std::vector<AppendResult>> append_rows(PgShared& s, Connection& c, std::vector<ChangeEvent>& events,
                                            AccountId account, MailboxId mailbox,
                                            const std::vector<const NewMessage*>& messages, Limits limits, int64_t now) {
  if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
  auto box = co_await mailbox_row(c, account, mailbox);
  if (!box) co_return box.error();
  int64_t bytes = 0;
  for (const NewMessage* m : messages) bytes += int64_t(m->size);
  if (auto q = co_await add_totals(c, account, bytes, int64_t(messages.size()), limits); !q) co_return q.error();
  std::vector<AppendResult> out;
  if (messages.empty()) co_return out;
  auto alloc = co_await allocate(c, mailbox, messages.size());
  if (!alloc) co_return alloc.error();
  if (auto refs = co_await reference_blobs(s, c, messages); !refs) co_return refs.error();
  Uid uid = alloc->first_uid;
  for (const NewMessage* m : messages) {
    auto put = co_await insert_message_row(c, mailbox, uid, alloc->modseq, *m, now);
    if (!put) co_return put.error();
    out.push_back(AppendResult{box->info.uid_validity, uid, alloc->modseq});
    ++uid;
  }
  events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kAppended, alloc->modseq});
  co_return out;
}

struct StoredRow {
  Uid uid = 0;
  uint64_t size = 0;
  std::string blob;
};

Task<std::vector<StoredRow>> stored_rows(Connection& c, MailboxId mailbox, const std::string& uid_list,
                                         bool deleted_only) {
  const std::string sql = std::string("SELECT uid::text, size::text, blob FROM message WHERE mailbox = $1 ") +
                          (uid_list.empty() ? "" : "AND uid = ANY($2::bigint[]) ") +
                          (deleted_only ? "AND (flags & " + std::to_string(int(kDeleted)) + ") != 0 " : "") +
                          "ORDER BY message.uid";
  std::vector<Param> params;
  params.push_back(Param::integer(mailbox));
  if (!uid_list.empty()) params.push_back(Param::text(uid_list));
  auto rows = co_await c.query(sql, std::move(params), Format::kBinary);
  if (!rows) co_return rows.error();
  std::vector<StoredRow> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(StoredRow{Uid(rows->integer(i, 0)), uint64_t(rows->integer(i, 1)), std::string(rows->text(i, 2))});
  }
  co_return out;
}

// Deletes the rows (which exist) and logs them as expunged at `modseq`. adjust: also drops their
// blob references and takes them off the account's totals.
Task<void> remove_rows(Connection& c, AccountId account, MailboxId mailbox, const std::vector<StoredRow>& rows,
                       ModSeq modseq, bool adjust) {
  std::vector<Uid> uids;
  std::map<std::string, int64_t> deltas;
  int64_t bytes = 0;
  for (const auto& r : rows) {
    uids.push_back(r.uid);
    --deltas[r.blob];
    bytes += int64_t(r.size);
  }
  const std::string list = int_array(uids);
  auto del = co_await c.query("DELETE FROM message WHERE mailbox = $1 AND uid = ANY($2::bigint[])", Param::integer(mailbox),
                              Param::text(list));
  if (!del) co_return del.error();
  auto log = co_await c.query(
      "INSERT INTO expunged (mailbox, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u "
      "ON CONFLICT (mailbox, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
      Param::integer(mailbox), Param::text(list), Param::integer(int64_t(modseq)));
  if (!log) co_return log.error();
  if (!adjust) co_return Result<void>{};
  if (auto r = co_await adjust_refcounts(c, deltas); !r) co_return r.error();
  const Limits none;
  auto tail_result = co_await add_totals(c, account, -bytes, -int64_t(rows.size()), none);
  co_return tail_result;
}

// Under the account lock: copies (or moves) the given UIDs of `source` into `dest`.
Task<CopyResult> copy_locked(Connection& c, AccountId account, MailboxId source, std::vector<Uid> uids, MailboxId dest,
                             Limits limits, bool move, int64_t now) {
  auto src_box = co_await mailbox_row(c, account, source);
  if (!src_box) co_return src_box.error();
  auto dest_box = co_await mailbox_row(c, account, dest);
  if (!dest_box) co_return dest_box.error();
  CopyResult result;
  result.uid_validity = dest_box->info.uid_validity;
  if (uids.empty()) co_return result;
  auto rows = co_await stored_rows(c, source, int_array(uids), false);
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return result;
  std::vector<Uid> found;
  std::map<std::string, int64_t> deltas;
  int64_t bytes = 0;
  for (const auto& r : *rows) {
    found.push_back(r.uid);
    ++deltas[r.blob];
    bytes += int64_t(r.size);
  }
  const std::string found_list = int_array(found);
  if (!move) {
    if (auto q = co_await add_totals(c, account, bytes, int64_t(found.size()), limits); !q) co_return q.error();
  }
  auto alloc = co_await allocate(c, dest, found.size());
  if (!alloc) co_return alloc.error();
  if (!move) {
    if (auto r = co_await adjust_refcounts(c, deltas); !r) co_return r.error();
  }
  std::vector<Param> params;
  params.push_back(Param::integer(source));
  params.push_back(Param::integer(dest));
  params.push_back(Param::integer(alloc->first_uid));
  params.push_back(Param::integer(int64_t(alloc->modseq)));
  params.push_back(Param::integer(now));
  params.push_back(Param::text(found_list));
  auto copied = co_await c.query(
      "INSERT INTO message (mailbox, uid, modseq, flags, keywords, internal_date, save_date, size, blob, prefix, "
      "summary, content_hash) SELECT $2, $3 + row_number() OVER (ORDER BY uid) - 1, $4, flags, keywords, internal_date, "
      "$5, size, blob, prefix, summary, content_hash FROM message WHERE mailbox = $1 AND uid = ANY($6::bigint[])",
      std::move(params));
  if (!copied) co_return copied.error();
  for (std::size_t i = 0; i < found.size(); ++i) {
    result.source.push_back(found[i]);
    result.dest.push_back(Uid(alloc->first_uid + i));
  }
  if (!move) co_return result;
  auto src_alloc = co_await allocate(c, source, 0);
  if (!src_alloc) co_return src_alloc.error();
  if (auto r = co_await remove_rows(c, account, source, *rows, src_alloc->modseq, false); !r) co_return r.error();
  co_return result;
}

Task<StoreResult> store_flags_locked(Connection& c, AccountId account, MailboxId mailbox, const StoreFlags& request) {
  auto box = co_await mailbox_row(c, account, mailbox);
  if (!box) co_return box.error();
  StoreResult result;
  result.highest_modseq = box->info.highest_modseq;
  if (request.uids.empty()) co_return result;
  const std::string sql = "SELECT " + std::string(kMeta) +
                          " FROM message WHERE mailbox = $1 AND uid = ANY($2::bigint[]) ORDER BY message.uid";
  auto rows = co_await c.query_binary(sql, Param::integer(mailbox), Param::text(int_array(request.uids)));
  if (!rows) co_return rows.error();
  const ModSeq modseq = box->info.highest_modseq + 1;
  std::vector<Uid> uids;
  std::vector<int64_t> flags;
  std::vector<std::string> keywords;
  for (int i = 0; i < rows->size(); ++i) {
    MessageInfo info = read_info(*rows, i);
    if (request.unchanged_since && info.modseq > *request.unchanged_since) {
      result.conflicts.push_back(info.uid);
      continue;
    }
    Flags updated = apply_flag_op(info.flags, request.op, request.flags);
    if (updated == info.flags) {
      result.unchanged.push_back(std::move(info));
      continue;
    }
    uids.push_back(info.uid);
    flags.push_back(updated.system);
    keywords.push_back(join_keywords(updated.keywords));
    info.flags = std::move(updated);
    info.modseq = modseq;
    result.changed.push_back(std::move(info));
  }
  if (result.changed.empty()) co_return result;
  auto up = co_await c.query(
      "UPDATE message m SET flags = u.flags, keywords = u.keywords, modseq = $2 "
      "FROM unnest($3::bigint[], $4::smallint[], $5::text[]) AS u(uid, flags, keywords) "
      "WHERE m.mailbox = $1 AND m.uid = u.uid",
      Param::integer(mailbox), Param::integer(int64_t(modseq)), Param::text(int_array(uids)),
      Param::text(int_array(flags)), Param::text(text_array(keywords)));
  if (!up) co_return up.error();
  auto mark = co_await c.query("UPDATE mailbox SET highest_modseq = $2 WHERE id = $1", Param::integer(mailbox),
                               Param::integer(int64_t(modseq)));
  if (!mark) co_return mark.error();
  result.highest_modseq = modseq;
  co_return result;
}

Task<ExpungeResult> expunge_locked(Connection& c, AccountId account, MailboxId mailbox,
                                   const std::optional<std::vector<Uid>>& uids) {
  auto box = co_await mailbox_row(c, account, mailbox);
  if (!box) co_return box.error();
  ExpungeResult result;
  result.highest_modseq = box->info.highest_modseq;
  if (uids && uids->empty()) co_return result;
  std::string list;  // empty: every message with \Deleted
  if (uids) list = int_array(*uids);
  auto rows = co_await stored_rows(c, mailbox, list, true);
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return result;
  auto alloc = co_await allocate(c, mailbox, 0);
  if (!alloc) co_return alloc.error();
  if (auto r = co_await remove_rows(c, account, mailbox, *rows, alloc->modseq, true); !r) co_return r.error();
  for (const auto& r : *rows) result.expunged.push_back(r.uid);
  result.highest_modseq = alloc->modseq;
  co_return result;
}

// The metadata of the mailbox's messages matching `where` (its parameters from $2 on), by UID.
Task<std::vector<MessageInfo>> message_infos(Connection& c, MailboxId mailbox, std::string where, std::vector<Param> params) {
  params.insert(params.begin(), Param::integer(mailbox));
  const std::string sql = "SELECT " + std::string(kMeta) + " FROM message WHERE mailbox = $1 " + where + " ORDER BY message.uid";
  auto rows = co_await c.query(sql, std::move(params), Format::kBinary);
  if (!rows) co_return rows.error();
  std::vector<MessageInfo> out;
  out.reserve(std::size_t(rows->size()));
  for (int i = 0; i < rows->size(); ++i) out.push_back(read_info(*rows, i));
  co_return out;
}

Task<std::vector<Uid>> uids_of_query(Connection& c, std::string sql, std::vector<Param> params) {
  auto rows = co_await c.query(sql, std::move(params), Format::kBinary);
  if (!rows) co_return rows.error();
  std::vector<Uid> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(Uid(rows->integer(i, 0)));
  co_return out;
}

// The rest of a mailbox's changes after `since` (the caller read `box` in the same snapshot).
Task<Changes> changes_in(Connection& c, const MailboxRow& box, ModSeq since) {
  Changes out;
  out.highest_modseq = box.info.highest_modseq;
  out.uid_next = box.info.uid_next;
  std::vector<Param> params;
  params.push_back(Param::integer(int64_t(since)));
  auto changed = co_await message_infos(c, box.info.id, "AND modseq > $2", std::move(params));
  if (!changed) co_return changed.error();
  out.changed = std::move(*changed);
  std::vector<Param> gone_params;
  gone_params.push_back(Param::integer(box.info.id));
  gone_params.push_back(Param::integer(int64_t(since)));
  auto gone = co_await uids_of_query(c, "SELECT uid::text FROM expunged WHERE mailbox = $1 AND modseq > $2 ORDER BY expunged.uid",
                                     std::move(gone_params));
  if (!gone) co_return gone.error();
  out.vanished = std::move(*gone);
  co_return out;
}

Task<MaildropResult> commit_maildrop_locked(Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                                            MailboxId mailbox, MaildropUpdate update) {
  auto box = co_await mailbox_row(c, account, mailbox);
  if (!box) co_return box.error();
  MaildropResult out;
  if (!update.retrieved.empty()) {
    auto marked = co_await c.query(
        "UPDATE message SET retrieved_at = $3 WHERE mailbox = $1 AND uid = ANY($2::bigint[]) AND retrieved_at = 0",
        Param::integer(mailbox), Param::text(int_array(update.retrieved)), Param::integer(update.now));
    if (!marked) co_return marked.error();
  }
  std::vector<Uid> remove;
  if (update.remove_deleted) {
    remove = update.deleted;
  } else if (!update.deleted.empty()) {
    auto hidden = co_await c.query("UPDATE message SET pop3_hidden = true WHERE mailbox = $1 AND uid = ANY($2::bigint[])",
                                   Param::integer(mailbox), Param::text(int_array(update.deleted)));
    if (!hidden) co_return hidden.error();
  }
  if (update.expire_retrieved_before) {
    std::vector<Param> params;
    params.push_back(Param::integer(mailbox));
    params.push_back(Param::integer(*update.expire_retrieved_before));
    auto expired = co_await uids_of_query(
        c, "SELECT uid::text FROM message WHERE mailbox = $1 AND retrieved_at > 0 AND retrieved_at < $2", std::move(params));
    if (!expired) co_return expired.error();
    remove.insert(remove.end(), expired->begin(), expired->end());
  }
  std::sort(remove.begin(), remove.end());
  remove.erase(std::unique(remove.begin(), remove.end()), remove.end());
  ModSeq flagged_modseq = 0;
  if (update.mark_seen && !update.retrieved.empty()) {
    StoreFlags seen;
    for (Uid uid : update.retrieved) {
      if (!std::binary_search(remove.begin(), remove.end(), uid)) seen.uids.push_back(uid);
    }
    std::sort(seen.uids.begin(), seen.uids.end());
    seen.flags.system = kSeen;
    auto flagged = co_await store_flags_locked(c, account, mailbox, seen);
    if (!flagged) co_return flagged.error();
    for (const auto& m : flagged->changed) out.seen.push_back(m.uid);
    flagged_modseq = flagged->highest_modseq;
  }
  if (!out.seen.empty()) events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kFlags, flagged_modseq});
  if (!update.remove_deleted) {
    for (Uid uid : update.deleted) {
      if (!std::binary_search(remove.begin(), remove.end(), uid)) out.hidden.push_back(uid);
    }
    std::sort(out.hidden.begin(), out.hidden.end());
  }
  if (remove.empty()) co_return out;
  auto rows = co_await stored_rows(c, mailbox, int_array(remove), false);
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return out;
  auto alloc = co_await allocate(c, mailbox, 0);
  if (!alloc) co_return alloc.error();
  if (auto r = co_await remove_rows(c, account, mailbox, *rows, alloc->modseq, true); !r) co_return r.error();
  for (const auto& r : *rows) out.removed.push_back(r.uid);
  events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kExpunged, alloc->modseq});
  co_return out;
}

Task<std::vector<MailboxId>> rename_locked(Connection& c, AccountId account, std::string from, std::string to,
                                           int64_t now) {
  auto all = co_await all_mailboxes(c, account);
  if (!all) co_return all.error();
  const MailboxRow* source = by_name(*all, from);
  if (source == nullptr) co_return no_mailbox();
  if (by_name(*all, to) != nullptr) co_return make_error(Errc::kExists, "target mailbox already exists");
  if (from == "INBOX") {
    // RFC 9051 §6.3.6: the messages move to a new mailbox; INBOX stays (empty) with its children.
    if (auto r = co_await create_parents(c, account, *all, to, now); !r) co_return r.error();
    auto dest = co_await insert_mailbox(c, account, to, SpecialUse::kNone, now);
    if (!dest) co_return dest.error();
    std::vector<Param> params;
    params.push_back(Param::integer(source->info.id));
    auto uids = co_await uids_of_query(c, "SELECT uid::text FROM message WHERE mailbox = $1 ORDER BY message.uid", std::move(params));
    if (!uids) co_return uids.error();
    const Limits none;
    auto moved = co_await copy_locked(c, account, source->info.id, std::move(*uids), *dest, none, true, now);
    if (!moved) co_return moved.error();
    co_return std::vector<MailboxId>{source->info.id, *dest};
  }
  if (is_under(to, from)) co_return make_error(Errc::kInvalid, "cannot move a mailbox into itself");
  std::vector<std::pair<const MailboxRow*, std::string>> moves;
  for (const auto& m : *all) {
    if (m.info.name != from && !is_under(m.info.name, from)) continue;
    std::string new_name = to + m.info.name.substr(from.size());
    if (by_name(*all, new_name) != nullptr) co_return make_error(Errc::kExists, "target mailbox already exists");
    moves.emplace_back(&m, std::move(new_name));
  }
  if (auto r = co_await create_parents(c, account, *all, to, now); !r) co_return r.error();
  std::vector<MailboxId> changed;
  for (const auto& [m, new_name] : moves) {
    auto up = co_await c.query("UPDATE mailbox SET name = $2 WHERE id = $1", Param::integer(m->info.id), Param::text(new_name));
    if (!up) co_return up.error();
    // Subscriptions follow (replacing one the new name had).
    auto drop = co_await c.query(
        "DELETE FROM subscription WHERE account = $1 AND name = $3 AND "
        "EXISTS (SELECT 1 FROM subscription WHERE account = $1 AND name = $2)",
        Param::integer(account), Param::text(m->info.name), Param::text(new_name));
    if (!drop) co_return drop.error();
    auto sub = co_await c.query("UPDATE subscription SET name = $3 WHERE account = $1 AND name = $2",
                                Param::integer(account), Param::text(m->info.name), Param::text(new_name));
    if (!sub) co_return sub.error();
    changed.push_back(m->info.id);
  }
  co_return changed;
}

Task<void> delete_mailbox_locked(Connection& c, AccountId account, std::string name) {
  if (name == "INBOX") co_return make_error(Errc::kDenied, "INBOX cannot be deleted");
  auto all = co_await all_mailboxes(c, account);
  if (!all) co_return all.error();
  const MailboxRow* box = by_name(*all, name);
  if (box == nullptr) co_return no_mailbox();
  for (const auto& m : *all) {
    if (is_under(m.info.name, name)) co_return make_error(Errc::kConflict, "mailbox has child mailboxes");
  }
  const MailboxId id = box->info.id;
  auto rows = co_await stored_rows(c, id, std::string(), false);
  if (!rows) co_return rows.error();
  std::map<std::string, int64_t> deltas;
  int64_t bytes = 0;
  for (const auto& r : *rows) {
    --deltas[r.blob];
    bytes += int64_t(r.size);
  }
  auto gone = co_await c.query("DELETE FROM mailbox WHERE id = $1", Param::integer(id));  // messages, log cascade
  if (!gone) co_return gone.error();
  if (auto r = co_await adjust_refcounts(c, deltas); !r) co_return r.error();
  const Limits none;
  auto tail_result = co_await add_totals(c, account, -bytes, -int64_t(rows->size()), none);
  co_return tail_result;
}

Task<void> delete_account_rows(Connection& c, AccountId account) {
  auto rows = co_await c.query_binary("SELECT id::text FROM mail_account WHERE id = $1 FOR UPDATE", Param::integer(account));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return Result<void>{};
  auto blobs = co_await c.query_binary(
      "SELECT m.blob, count(*)::text FROM message m JOIN mailbox b ON b.id = m.mailbox WHERE b.account = $1 "
      "GROUP BY m.blob",
      Param::integer(account));
  if (!blobs) co_return blobs.error();
  std::map<std::string, int64_t> deltas;
  for (int i = 0; i < blobs->size(); ++i) deltas[std::string(blobs->text(i, 0))] = -blobs->integer(i, 1);
  auto gone = co_await c.query("DELETE FROM mail_account WHERE id = $1", Param::integer(account));  // cascades
  if (!gone) co_return gone.error();
  auto tail_result = co_await adjust_refcounts(c, deltas);
  co_return tail_result;
}

// ---- reading a blob ----

// One chunk of a blob (seq), read whole; kNotFound when the blob is gone (its last message expunged).
Task<std::string> read_chunk(Connection& c, std::string hash, uint64_t seq) {
  auto rows = co_await c.query_binary("SELECT bytes FROM blob_chunk WHERE hash = $1 AND seq = $2", Param::text(hash),
                                      Param::integer(int64_t(seq)));
  if (!rows) co_return rows.error();
  if (rows->empty()) co_return make_error(Errc::kNotFound, "the message is gone");
  co_return rows->bytes(0, 0);
}

// The bytes of one stored message: the prefix from its row, then the blob's chunks, fetched when a
// read reaches them. The chunk read last is kept (at most kBlobChunk bytes), so a client reading a
// message in small pieces costs one query per chunk, not one per piece; nothing holds more.
class PgMessageBlob final : public MessageBlob {
 public:
  PgMessageBlob(std::shared_ptr<PgShared> shared, std::string prefix, std::string hash, uint64_t blob_size)
      : shared_(std::move(shared)), prefix_(std::move(prefix)), hash_(std::move(hash)), blob_size_(blob_size) {}

  uint64_t size() const override { return prefix_.size() + blob_size_; }

  // Blocking: runs the read on a connection of its own on a private io_context, so it neither
  // needs the store's I/O threads nor holds one of its pooled connections. For callers on a
  // blocking-pool thread; read() is the way for coroutines.
  Result<std::string> read_blocking(uint64_t offset, std::size_t length) override {
    asio::io_context io;
    auto done = asio::co_spawn(io, read_with(io.get_executor(), true, offset, length), asio::use_future);
    io.run();
    return done.get();
  }

  Task<std::string> read(uint64_t offset, std::size_t length) override {
    auto ex = co_await asio::this_coro::executor;
    auto r = co_await read_with(ex, false, offset, length);
    co_return r;
  }

 private:
  // own_connection: connect on `ex` instead of leasing from the store's pool.
  Task<std::string> read_with(asio::any_io_executor ex, bool own_connection, uint64_t offset, std::size_t length) {
    std::string out;
    if (offset < prefix_.size()) {
      const std::size_t take = std::size_t(std::min<uint64_t>(length, prefix_.size() - offset));
      out.append(prefix_, std::size_t(offset), take);
      offset += take;
      length -= take;
    }
    if (length == 0 || offset >= size()) co_return out;
    const uint64_t begin = offset - prefix_.size();
    const uint64_t end = std::min<uint64_t>(begin + length, blob_size_);
    std::optional<Pool::Lease> lease;
    std::unique_ptr<Connection> own;
    for (uint64_t seq = begin / kBlobChunk; seq * kBlobChunk < end; ++seq) {
      const uint64_t start = seq * kBlobChunk;
      const std::size_t from = std::size_t(std::max(begin, start) - start);
      const std::size_t to = std::size_t(std::min<uint64_t>(end, start + kBlobChunk) - start);
      {
        std::lock_guard lock(mu_);
        if (cached_ && cached_seq_ == seq) {
          out.append(cached_chunk_, from, to - from);
          continue;
        }
      }
      Connection* c = nullptr;
      if (own_connection) {
        if (!own) {
          auto made = co_await Connection::connect(ex, shared_->options.pool.connect);
          if (!made) co_return made.error();
          own = std::move(*made);
        }
        c = own.get();
      } else {
        if (!lease) {
          auto got = co_await shared_->pool.acquire();
          if (!got) co_return got.error();
          lease.emplace(std::move(*got));
        }
        c = &**lease;
      }
      auto chunk = co_await read_chunk(*c, hash_, seq);
      if (!chunk) co_return chunk.error();
      if (chunk->size() < to) co_return make_error(Errc::kInternal, "message storage error");
      out.append(*chunk, from, to - from);
      std::lock_guard lock(mu_);
      cached_chunk_ = std::move(*chunk);
      cached_seq_ = seq;
      cached_ = true;
    }
    co_return out;
  }

  std::shared_ptr<PgShared> shared_;
  std::string prefix_;
  std::string hash_;
  uint64_t blob_size_;
  std::mutex mu_;  // guards the cached chunk
  bool cached_ = false;
  uint64_t cached_seq_ = 0;
  std::string cached_chunk_;
};

// ---- moving an installation (posthorn migrate) ----

// Account::restore_mailbox in the caller's transaction.
Task<MailboxInfo> restore_mailbox_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                                     MailboxInfo info) {
  if (auto checked = check_restore_mailbox(info); !checked) co_return checked.error();
  if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
  auto all = co_await all_mailboxes(c, account);
  if (!all) co_return all.error();
  const int64_t now = now_seconds();
  MailboxId id = 0;
  if (const MailboxRow* existing = by_name(*all, info.name)) {
    auto held = co_await c.query_binary("SELECT count(*)::text FROM message WHERE mailbox = $1",
                                        Param::integer(existing->info.id));
    if (!held) co_return held.error();
    if (held->integer(0, 0) != 0) {
      co_return make_error(Errc::kConflict, "mailbox " + info.name + " holds messages: restoring never merges");
    }
    id = existing->info.id;
  } else {
    if (auto r = co_await create_parents(c, account, *all, info.name, now); !r) co_return r.error();
    auto made = co_await insert_mailbox(c, account, info.name, info.special_use, now);
    if (!made) co_return made.error();
    id = *made;
  }
  auto set = co_await c.query(
      "UPDATE mailbox SET uid_validity = $2, uid_next = $3, highest_modseq = $4, special_use = $5, first_recent = $3 "
      "WHERE id = $1",
      Param::integer(id), Param::integer(int64_t(info.uid_validity)), Param::integer(int64_t(info.uid_next)),
      Param::integer(int64_t(info.highest_modseq)), Param::integer(int64_t(info.special_use)));
  if (!set) co_return set.error();
  auto last = co_await c.query(
      "UPDATE mail_account SET last_uid_validity = greatest(last_uid_validity, $2) WHERE id = $1",
      Param::integer(account), Param::integer(int64_t(info.uid_validity)));
  if (!last) co_return last.error();
  auto row = co_await mailbox_row(c, account, id);
  if (!row) co_return row.error();
  events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
  co_return row->info;
}

// Mailbox::restore_messages in the caller's transaction: `prepared[i]` holds `given[i]`'s bytes.
Task<void> restore_rows(PgShared& s, Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                        MailboxId mailbox, const std::vector<RestoredMessage>& given,
                        const std::vector<NewMessage>& prepared) {
  if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
  auto box = co_await mailbox_row(c, account, mailbox, true);
  if (!box) co_return box.error();
  auto max_uid = co_await c.query_binary("SELECT coalesce(max(uid), 0)::text FROM message WHERE mailbox = $1",
                                         Param::integer(mailbox));
  if (!max_uid) co_return max_uid.error();
  if (auto checked = check_restore(given, box->info, Uid(max_uid->integer(0, 0))); !checked) co_return checked.error();
  if (given.empty()) co_return Result<void>{};
  std::vector<const NewMessage*> list;
  int64_t bytes = 0;
  for (const auto& m : prepared) {
    list.push_back(&m);
    bytes += int64_t(m.size);
  }
  const Limits unlimited;
  if (auto q = co_await add_totals(c, account, bytes, int64_t(list.size()), unlimited); !q) co_return q.error();
  if (auto refs = co_await reference_blobs(s, c, list); !refs) co_return refs.error();
  for (std::size_t i = 0; i < given.size(); ++i) {
    const MessageInfo& info = given[i].info;
    auto put = co_await insert_message_row(c, mailbox, info.uid, info.modseq, prepared[i], info.save_date);
    if (!put) co_return put.error();
  }
  auto recent = co_await c.query("UPDATE mailbox SET first_recent = uid_next WHERE id = $1", Param::integer(mailbox));
  if (!recent) co_return recent.error();
  events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kAppended, box->info.highest_modseq});
  co_return Result<void>{};
}

// ---- Account and Mailbox ----

class PgAccount final : public Account, public std::enable_shared_from_this<PgAccount> {
 public:
  PgAccount(AccountId id, std::shared_ptr<PgShared> shared, Limits limits)
      : id_(id), shared_(std::move(shared)), limits_(limits) {}

  AccountId id() const override { return id_; }
  const std::shared_ptr<PgShared>& shared() const { return shared_; }
  Limits limits() const {
    std::lock_guard lock(mu_);
    return limits_;
  }
  void set_limits(const Limits& limits) {
    std::lock_guard lock(mu_);
    limits_ = limits;
  }

  Task<std::vector<MailboxInfo>> list_mailboxes() override {
    const AccountId account = id_;
    ReadBody<std::vector<MailboxInfo>> body = [account](Connection& c) { return list_in(c, account); };
    return read_tx(shared_, std::move(body));
  }

  Task<MailboxInfo> find_mailbox(std::string name) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    std::string n = std::move(*canonical);
    ReadBody<MailboxInfo> body = [account, n](Connection& c) { return mailbox_by_name(c, account, n); };
    auto r = co_await read_tx(shared_, std::move(body));
    co_return r;
  }

  Task<MailboxInfo> create_mailbox(std::string name, SpecialUse use) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    std::string n = std::move(*canonical);
    WriteBody<MailboxInfo> body = [account, n, use](Connection& c, std::vector<ChangeEvent>& events) {
      return create_in(c, events, account, n, use);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

  Task<void> rename_mailbox(std::string from, std::string to) override {
    auto f = canonical_mailbox_name(from);
    if (!f) co_return f.error();
    auto t = canonical_mailbox_name(to);
    if (!t) co_return t.error();
    const AccountId account = id_;
    std::string fs = std::move(*f);
    std::string ts = std::move(*t);
    WriteBody<void> body = [account, fs, ts](Connection& c, std::vector<ChangeEvent>& events) {
      return rename_in(c, events, account, fs, ts);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

  Task<void> delete_mailbox(std::string name) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    std::string n = std::move(*canonical);
    WriteBody<void> body = [account, n](Connection& c, std::vector<ChangeEvent>& events) {
      return delete_in(c, events, account, n);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

  Task<void> set_subscribed(std::string name, bool subscribed) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    std::string n = std::move(*canonical);
    WriteBody<void> body = [account, n, subscribed](Connection& c, std::vector<ChangeEvent>&) {
      return subscribe_in(c, account, n, subscribed);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

  Task<std::vector<std::string>> list_subscriptions() override {
    const AccountId account = id_;
    ReadBody<std::vector<std::string>> body = [account](Connection& c) { return subscriptions_in(c, account); };
    return read_tx(shared_, std::move(body));
  }

  Task<std::unique_ptr<Mailbox>> open(std::string name) override;
  Task<std::unique_ptr<Mailbox>> open_id(MailboxId id) override;

  Task<QuotaUsage> quota() override {
    const AccountId account = id_;
    ReadBody<QuotaUsage> body = [account](Connection& c) { return usage_in(c, account); };
    auto usage = co_await read_tx(shared_, std::move(body));
    if (usage) usage->limits = limits();
    co_return usage;
  }

  Task<void> set_pop3_policy(std::string policy) override {
    const AccountId account = id_;
    WriteBody<void> body = [account, policy](Connection& c, std::vector<ChangeEvent>&) {
      return policy_in(c, account, policy);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

  // ---- Moving an installation (posthorn migrate) ----
  Task<MailboxInfo> restore_mailbox(MailboxInfo info) override {
    auto canonical = canonical_mailbox_name(info.name);
    if (!canonical) co_return canonical.error();
    info.name = std::move(*canonical);
    const AccountId account = id_;
    WriteBody<MailboxInfo> body = [account, info](Connection& c, std::vector<ChangeEvent>& events) {
      return restore_mailbox_in(c, events, account, info);
    };
    auto r = co_await transact(shared_, std::move(body));
    co_return r;
  }

 private:
  static Task<std::vector<MailboxInfo>> list_in(Connection& c, AccountId account) {
    auto rows = co_await all_mailboxes(c, account);
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return account_gone();  // every account has INBOX
    std::vector<MailboxInfo> out;
    for (auto& r : *rows) out.push_back(std::move(r.info));
    co_return out;
  }

  static Task<MailboxInfo> create_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account, std::string name,
                                     SpecialUse use) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto all = co_await all_mailboxes(c, account);
    if (!all) co_return all.error();
    if (by_name(*all, name) != nullptr) co_return make_error(Errc::kExists, "mailbox already exists");
    const int64_t now = now_seconds();
    if (auto r = co_await create_parents(c, account, *all, name, now); !r) co_return r.error();
    auto id = co_await insert_mailbox(c, account, name, use, now);
    if (!id) co_return id.error();
    auto info = co_await mailbox_row(c, account, *id);
    if (!info) co_return info.error();
    events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
    co_return info->info;
  }

  static Task<void> rename_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account, std::string from,
                              std::string to) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto changed = co_await rename_locked(c, account, from, to, now_seconds());
    if (!changed) co_return changed.error();
    events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
    if (from == "INBOX" && !changed->empty()) {  // INBOX lost its messages; the new mailbox got them
      auto inbox = co_await mailbox_row(c, account, changed->front());
      if (!inbox) co_return inbox.error();
      events.push_back(ChangeEvent{account, inbox->info.id, ChangeEvent::Kind::kExpunged, inbox->info.highest_modseq});
    }
    co_return Result<void>{};
  }

  static Task<void> delete_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account, std::string name) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    if (auto r = co_await delete_mailbox_locked(c, account, name); !r) co_return r.error();
    events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
    co_return Result<void>{};
  }

  static Task<void> subscribe_in(Connection& c, AccountId account, std::string name, bool subscribed) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto r = subscribed
                 ? c.query("INSERT INTO subscription (account, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                           Param::integer(account), Param::text(name))
                 : c.query("DELETE FROM subscription WHERE account = $1 AND name = $2", Param::integer(account),
                           Param::text(name));
    auto done = co_await std::move(r);
    if (!done) co_return done.error();
    co_return Result<void>{};
  }

  static Task<std::vector<std::string>> subscriptions_in(Connection& c, AccountId account) {
    auto rows = co_await c.query_binary("SELECT name FROM subscription WHERE account = $1 ORDER BY name COLLATE \"C\"",
                                        Param::integer(account));
    if (!rows) co_return rows.error();
    std::vector<std::string> out;
    for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->text(i, 0));
    co_return out;
  }

  static Task<QuotaUsage> usage_in(Connection& c, AccountId account) {
    auto rows = co_await c.query_binary("SELECT storage_bytes::text, messages::text FROM mail_account WHERE id = $1",
                                        Param::integer(account));
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return account_gone();
    QuotaUsage q;
    q.storage_bytes = uint64_t(rows->integer(0, 0));
    q.messages = uint64_t(rows->integer(0, 1));
    co_return q;
  }

  static Task<void> policy_in(Connection& c, AccountId account, std::string policy) {
    auto rows = co_await c.query("UPDATE mail_account SET pop3_policy = $2 WHERE id = $1", Param::integer(account),
                                 Param::text(policy));
    if (!rows) co_return rows.error();
    if (rows->affected() == 0) co_return account_gone();
    co_return Result<void>{};
  }

  const AccountId id_;
  std::shared_ptr<PgShared> shared_;
  mutable std::mutex mu_;
  Limits limits_;  // guarded by mu_
};

class PgMailbox final : public Mailbox {
 public:
  PgMailbox(std::shared_ptr<PgAccount> account, MailboxId id) : account_(std::move(account)), id_(id) {}
  MailboxId id() const override { return id_; }

  Task<MailboxView> select(bool read_write) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    if (read_write) {
      WriteBody<MailboxView> body = [account, box](Connection& c, std::vector<ChangeEvent>&) {
        return select_in(c, account, box, true);
      };
      return transact(account_->shared(), std::move(body));
    }
    ReadBody<MailboxView> body = [account, box](Connection& c) { return select_in(c, account, box, false); };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<MailboxStatus> status() override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    ReadBody<MailboxStatus> body = [account, box](Connection& c) { return status_in(c, account, box); };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<std::vector<MessageData>> fetch(std::vector<Uid> uids, bool with_summary) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    ReadBody<std::vector<MessageData>> body = [account, box, uids, with_summary](Connection& c) {
      return fetch_in(c, account, box, uids, with_summary);
    };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<std::vector<MessageData>> summaries(std::vector<Uid> uids) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    ReadBody<std::vector<MessageData>> body = [account, box, uids](Connection& c) {
      return summaries_in(c, account, box, uids);
    };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<std::unique_ptr<MessageBlob>> open_message(Uid uid) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    std::shared_ptr<PgShared> shared = account_->shared();
    ReadBody<std::unique_ptr<MessageBlob>> body = [account, box, uid, shared](Connection& c) {
      return open_in(c, shared, account, box, uid);
    };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<std::vector<AppendResult>> append_many(std::vector<AppendMessage> messages) override {
    std::vector<Flags> flags;
    for (auto& m : messages) {
      auto f = checked_flags(std::move(m.flags));
      if (!f) co_return f.error();
      flags.push_back(std::move(*f));
    }
    std::shared_ptr<PgShared> shared = account_->shared();
    const std::filesystem::path dir = shared->options.spool_dir;
    auto prepared_task = run_blocking(
        shared->blocking,
        [dir, messages = std::move(messages), flags = std::move(flags)]() mutable -> Result<std::vector<NewMessage>> {
          std::vector<NewMessage> out;
          const int64_t now = now_seconds();
          for (std::size_t i = 0; i < messages.size(); ++i) {
            auto m = prepare(dir, messages[i], std::move(flags[i]), now);
            if (!m) return m.error();
            out.push_back(std::move(*m));
          }
          return out;
        });
    auto prepared = co_await std::move(prepared_task);
    if (!prepared) co_return prepared.error();
    std::vector<const NewMessage*> list;
    for (const auto& m : *prepared) list.push_back(&m);
    const AccountId account = account_->id();
    const MailboxId box = id_;
    const Limits limits = account_->limits();
    PgShared* s = shared.get();
    WriteBody<std::vector<AppendResult>> body = [s, account, box, &list, limits](Connection& c,
                                                                                 std::vector<ChangeEvent>& events) {
      return append_rows(*s, c, events, account, box, list, limits, now_seconds());
    };
    auto r = co_await transact(shared, std::move(body));
    co_return r;
  }

  Task<StoreResult> store_flags(StoreFlags request) override {
    auto flags = checked_flags(std::move(request.flags));
    if (!flags) co_return flags.error();
    request.flags = std::move(*flags);
    const AccountId account = account_->id();
    const MailboxId box = id_;
    WriteBody<StoreResult> body = [account, box, request](Connection& c, std::vector<ChangeEvent>& events) {
      return store_in(c, events, account, box, request);
    };
    auto r = co_await transact(account_->shared(), std::move(body));
    co_return r;
  }

  Task<CopyResult> copy(std::vector<Uid> uids, MailboxId dest) override { return copy_or_move(std::move(uids), dest, false); }
  Task<CopyResult> move(std::vector<Uid> uids, MailboxId dest) override { return copy_or_move(std::move(uids), dest, true); }

  Task<ExpungeResult> expunge(std::optional<std::vector<Uid>> uids) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    WriteBody<ExpungeResult> body = [account, box, uids](Connection& c, std::vector<ChangeEvent>& events) {
      return expunge_in(c, events, account, box, uids);
    };
    return transact(account_->shared(), std::move(body));
  }

  Task<Changes> changes_since(ModSeq since, bool claim_recent) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    auto mark = std::make_shared<Uid>(0);
    ReadBody<Changes> body = [account, box, since, mark](Connection& c) {
      return changes_read(c, account, box, since, mark);
    };
    auto changes = co_await read_tx(account_->shared(), std::move(body));
    if (!changes || !claim_recent) co_return changes;
    const Uid below = changes->uid_next;
    const Uid first = *mark;
    const bool unclaimed = std::any_of(changes->changed.begin(), changes->changed.end(),
                                       [&](const MessageInfo& m) { return m.uid >= first; });
    if (!unclaimed || first >= below) co_return changes;
    WriteBody<std::optional<UidRange>> claim = [account, box, below](Connection& c, std::vector<ChangeEvent>&) {
      return claim_in(c, account, box, below);
    };
    auto claimed = co_await transact(account_->shared(), std::move(claim));
    if (!claimed) co_return claimed.error();
    changes->claimed_recent = *claimed;
    co_return changes;
  }

  Task<MaildropView> maildrop() override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    ReadBody<MaildropView> body = [account, box](Connection& c) { return maildrop_in(c, account, box); };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<MaildropResult> commit_maildrop(MaildropUpdate update) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    WriteBody<MaildropResult> body = [account, box, update](Connection& c, std::vector<ChangeEvent>& events) {
      return maildrop_commit_in(c, events, account, box, update);
    };
    return transact(account_->shared(), std::move(body));
  }

  // ---- Moving an installation (posthorn migrate) ----
  Task<std::vector<MessageInfo>> image_page(Uid after, std::size_t limit) override {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    ReadBody<std::vector<MessageInfo>> body = [account, box, after, limit](Connection& c) {
      return image_page_in(c, account, box, after, limit);
    };
    return read_tx(account_->shared(), std::move(body));
  }

  Task<void> restore_messages(std::vector<RestoredMessage> messages) override {
    for (auto& m : messages) {
      auto f = checked_flags(std::move(m.info.flags));
      if (!f) co_return f.error();
      m.info.flags = std::move(*f);
    }
    std::shared_ptr<PgShared> shared = account_->shared();
    const std::filesystem::path dir = shared->options.spool_dir;
    auto given = std::make_shared<std::vector<RestoredMessage>>(std::move(messages));
    auto prepared_task = run_blocking(shared->blocking, [dir, given]() -> Result<std::vector<NewMessage>> {
      std::vector<NewMessage> out;
      const int64_t now = now_seconds();
      for (auto& m : *given) {
        AppendMessage exact = restored_append(m);
        auto prepared = prepare(dir, exact, m.info.flags, now);
        if (!prepared) return prepared.error();
        out.push_back(std::move(*prepared));
        m.spool.reset();  // the bytes are in memory or a temp file now
      }
      return out;
    });
    auto prepared = co_await std::move(prepared_task);
    if (!prepared) co_return prepared.error();
    const AccountId account = account_->id();
    const MailboxId box = id_;
    PgShared* s = shared.get();
    const std::vector<NewMessage>& rows = *prepared;
    WriteBody<void> body = [s, account, box, given, &rows](Connection& c, std::vector<ChangeEvent>& events) {
      return restore_rows(*s, c, events, account, box, *given, rows);
    };
    auto r = co_await transact(shared, std::move(body));
    co_return r;
  }

 private:
  static Task<std::vector<MessageInfo>> image_page_in(Connection& c, AccountId account, MailboxId box, Uid after,
                                                      std::size_t limit) {
    auto row = co_await mailbox_row(c, account, box);
    if (!row) co_return row.error();
    std::vector<Param> params;
    params.push_back(Param::integer(int64_t(after)));
    params.push_back(Param::integer(int64_t(limit)));
    // message_infos orders the rows; the page is chosen by the sub-select (on the primary key).
    auto infos = co_await message_infos(
        c, box, "AND uid > $2 AND uid IN (SELECT p.uid FROM message p WHERE p.mailbox = $1 AND p.uid > $2 ORDER BY p.uid LIMIT $3)",
        std::move(params));
    if (!infos) co_return infos.error();
    if (infos->size() > limit) infos->resize(limit);
    co_return infos;
  }

  Task<CopyResult> copy_or_move(std::vector<Uid> uids, MailboxId dest, bool move) {
    const AccountId account = account_->id();
    const MailboxId box = id_;
    const Limits limits = account_->limits();
    WriteBody<CopyResult> body = [account, box, uids, dest, limits, move](Connection& c,
                                                                         std::vector<ChangeEvent>& events) {
      return copy_in(c, events, account, box, uids, dest, limits, move);
    };
    return transact(account_->shared(), std::move(body));
  }

  static Task<MailboxView> select_in(Connection& c, AccountId account, MailboxId mailbox, bool claim) {
    auto box = co_await mailbox_row(c, account, mailbox, claim);
    if (!box) co_return box.error();
    MailboxView view;
    view.mailbox = box->info;
    std::vector<Param> params;
    auto messages = co_await message_infos(c, mailbox, "", std::move(params));
    if (!messages) co_return messages.error();
    view.messages = std::move(*messages);
    if (!view.messages.empty() && view.messages.back().uid >= box->first_recent) view.first_recent = box->first_recent;
    if (claim && box->first_recent < box->info.uid_next) {
      auto up = co_await c.query("UPDATE mailbox SET first_recent = uid_next WHERE id = $1", Param::integer(mailbox));
      if (!up) co_return up.error();
    }
    co_return view;
  }

  static Task<MailboxStatus> status_in(Connection& c, AccountId account, MailboxId mailbox) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    const std::string deleted = std::to_string(int(kDeleted));
    const std::string sql =
        "SELECT count(*)::text, coalesce(sum(size), 0)::text, (count(*) FILTER (WHERE (flags & " +
        std::to_string(int(kSeen)) + ") = 0))::text, (count(*) FILTER (WHERE uid >= $2))::text, "
        "(count(*) FILTER (WHERE (flags & " + deleted + ") != 0))::text, "
        "coalesce(sum(size) FILTER (WHERE (flags & " + deleted + ") != 0), 0)::text FROM message WHERE mailbox = $1";
    auto rows = co_await c.query_binary(sql, Param::integer(mailbox), Param::integer(box->first_recent));
    if (!rows) co_return rows.error();
    MailboxStatus s;
    s.messages = uint32_t(rows->integer(0, 0));
    s.size = uint64_t(rows->integer(0, 1));
    s.unseen = uint32_t(rows->integer(0, 2));
    s.recent = uint32_t(rows->integer(0, 3));
    s.deleted = uint32_t(rows->integer(0, 4));
    s.deleted_size = uint64_t(rows->integer(0, 5));
    s.uid_next = box->info.uid_next;
    s.uid_validity = box->info.uid_validity;
    s.highest_modseq = box->info.highest_modseq;
    co_return s;
  }

  static Task<std::vector<MessageData>> fetch_in(Connection& c, AccountId account, MailboxId mailbox,
                                                 std::vector<Uid> uids, bool with_summary) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    std::vector<MessageData> out;
    if (uids.empty()) co_return out;
    const std::string sql = "SELECT " + std::string(kMeta) + (with_summary ? ", summary" : "") +
                            " FROM message WHERE mailbox = $1 AND uid = ANY($2::bigint[]) ORDER BY message.uid";
    auto rows = co_await c.query_binary(sql, Param::integer(mailbox), Param::text(int_array(uids)));
    if (!rows) co_return rows.error();
    out.reserve(std::size_t(rows->size()));
    for (int i = 0; i < rows->size(); ++i) {
      MessageData& m = out.emplace_back();
      m.info = read_info(*rows, i);
      if (with_summary) m.summary = rows->bytes(i, 7);
    }
    co_return out;
  }

  static Task<std::vector<MessageData>> summaries_in(Connection& c, AccountId account, MailboxId mailbox,
                                                     std::vector<Uid> uids) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    std::vector<MessageData> out;
    if (uids.empty()) co_return out;
    auto rows = co_await c.query_binary(
        "SELECT uid::text, summary FROM message WHERE mailbox = $1 AND uid = ANY($2::bigint[]) ORDER BY message.uid",
        Param::integer(mailbox), Param::text(int_array(uids)));
    if (!rows) co_return rows.error();
    for (int i = 0; i < rows->size(); ++i) {
      MessageData& m = out.emplace_back();
      m.info.uid = Uid(rows->integer(i, 0));
      m.summary = rows->bytes(i, 1);
    }
    co_return out;
  }

  static Task<std::unique_ptr<MessageBlob>> open_in(Connection& c, std::shared_ptr<PgShared> shared, AccountId account,
                                                    MailboxId mailbox, Uid uid) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    auto rows = co_await c.query_binary(
        "SELECT m.blob, m.prefix, b.size::text FROM message m JOIN blob b ON b.hash = m.blob "
        "WHERE m.mailbox = $1 AND m.uid = $2",
        Param::integer(mailbox), Param::integer(uid));
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return make_error(Errc::kNotFound, "no such message");
    co_return std::unique_ptr<MessageBlob>(std::make_unique<PgMessageBlob>(
        std::move(shared), rows->bytes(0, 1), std::string(rows->text(0, 0)), uint64_t(rows->integer(0, 2))));
  }

  static Task<StoreResult> store_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                                    MailboxId mailbox, StoreFlags request) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto stored = co_await store_flags_locked(c, account, mailbox, request);
    if (stored && !stored->changed.empty()) {
      events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kFlags, stored->highest_modseq});
    }
    co_return stored;
  }

  static Task<CopyResult> copy_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account, MailboxId mailbox,
                                  std::vector<Uid> uids, MailboxId dest, Limits limits, bool move) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto copied = co_await copy_locked(c, account, mailbox, std::move(uids), dest, limits, move, now_seconds());
    if (!copied || copied->source.empty()) co_return copied;
    auto to = co_await mailbox_row(c, account, dest);
    if (!to) co_return to.error();
    events.push_back(ChangeEvent{account, dest, ChangeEvent::Kind::kAppended, to->info.highest_modseq});
    if (move) {
      auto from = co_await mailbox_row(c, account, mailbox);
      if (!from) co_return from.error();
      events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kExpunged, from->info.highest_modseq});
    }
    co_return copied;
  }

  static Task<ExpungeResult> expunge_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                                        MailboxId mailbox, const std::optional<std::vector<Uid>>& uids) {
    // (uids by reference: the caller's closure, alive in transact() until this completes)
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto done = co_await expunge_locked(c, account, mailbox, uids);
    if (done && !done->expunged.empty()) {
      events.push_back(ChangeEvent{account, mailbox, ChangeEvent::Kind::kExpunged, done->highest_modseq});
    }
    co_return done;
  }

  static Task<Changes> changes_read(Connection& c, AccountId account, MailboxId mailbox, ModSeq since,
                                    std::shared_ptr<Uid> mark) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    *mark = box->first_recent;
    auto tail_result = co_await changes_in(c, *box, since);
    co_return tail_result;
  }

  static Task<std::optional<UidRange>> claim_in(Connection& c, AccountId account, MailboxId mailbox, Uid below) {
    auto rows = co_await c.query_binary("SELECT first_recent::text FROM mailbox WHERE id = $1 AND account = $2 FOR UPDATE",
                                        Param::integer(mailbox), Param::integer(account));
    if (!rows) co_return rows.error();
    if (rows->empty()) co_return no_mailbox();
    const Uid first = Uid(rows->integer(0, 0));
    std::optional<UidRange> claimed;
    if (first >= below) co_return claimed;
    auto up = co_await c.query("UPDATE mailbox SET first_recent = $2 WHERE id = $1", Param::integer(mailbox),
                               Param::integer(below));
    if (!up) co_return up.error();
    claimed = UidRange{first, below - 1};
    co_return claimed;
  }

  static Task<MaildropView> maildrop_in(Connection& c, AccountId account, MailboxId mailbox) {
    auto box = co_await mailbox_row(c, account, mailbox);
    if (!box) co_return box.error();
    MaildropView view;
    view.uid_validity = box->info.uid_validity;
    auto policy = co_await c.query_binary("SELECT pop3_policy FROM mail_account WHERE id = $1", Param::integer(account));
    if (!policy) co_return policy.error();
    if (!policy->empty()) view.pop3_policy = std::string(policy->text(0, 0));
    auto rows = co_await c.query_binary(
        "SELECT uid::text, size::text, content_hash, retrieved_at::text, flags::text FROM message "
        "WHERE mailbox = $1 AND NOT pop3_hidden ORDER BY message.uid",
        Param::integer(mailbox));
    if (!rows) co_return rows.error();
    for (int i = 0; i < rows->size(); ++i) {
      view.messages.push_back(MaildropEntry{Uid(rows->integer(i, 0)), uint64_t(rows->integer(i, 1)),
                                            std::string(rows->text(i, 2)), rows->integer(i, 3),
                                            (rows->integer(i, 4) & kSeen) != 0});
    }
    co_return view;
  }

  static Task<MaildropResult> maildrop_commit_in(Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                                                 MailboxId mailbox, MaildropUpdate update) {
    if (auto locked = co_await lock_account(c, account); !locked) co_return locked.error();
    auto tail_result = co_await commit_maildrop_locked(c, events, account, mailbox, std::move(update));
    co_return tail_result;
  }

  std::shared_ptr<PgAccount> account_;
  const MailboxId id_;
};

Task<std::unique_ptr<Mailbox>> PgAccount::open(std::string name) {
  auto info = co_await find_mailbox(std::move(name));
  if (!info) co_return info.error();
  co_return std::unique_ptr<Mailbox>(std::make_unique<PgMailbox>(shared_from_this(), info->id));
}

Task<std::unique_ptr<Mailbox>> PgAccount::open_id(MailboxId id) {
  const AccountId account = id_;
  ReadBody<MailboxRow> body = [account, id](Connection& c) { return mailbox_row(c, account, id); };
  auto row = co_await read_tx(shared_, std::move(body));
  if (!row) co_return row.error();
  co_return std::unique_ptr<Mailbox>(std::make_unique<PgMailbox>(shared_from_this(), id));
}

// ---- the LISTEN side of the change feed ----

bool valid_channel(std::string_view channel) {
  if (channel.empty() || channel.size() > 63) return false;
  for (char c : channel) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

Task<std::unique_ptr<Connection>> listen_connection(std::shared_ptr<PgShared> s) {
  auto conn = co_await Connection::connect(s->executor, s->options.pool.connect);
  if (!conn) co_return conn.error();
  if (auto l = co_await (*conn)->exec("LISTEN " + s->options.channel); !l) co_return l.error();
  co_return std::move(*conn);
}

// Publishes the other nodes' events on this node's feed until the store is destroyed; reconnects
// (with backoff) when the connection breaks. Events sent while it was away are lost: sessions catch
// up at their next command or NOOP, as after any missed notification.
asio::awaitable<void> listen_loop(std::shared_ptr<PgShared> s, std::unique_ptr<Connection> conn) {
  std::chrono::milliseconds backoff{100};
  while (!s->stopped) {
    if (!conn || conn->broken()) {
      conn.reset();
      auto again = co_await listen_connection(s);
      if (again) {
        conn = std::move(*again);
        backoff = std::chrono::milliseconds(100);
        spdlog::info("mail store: listening for other nodes' changes again");
      } else {
        asio::steady_timer timer(s->executor, backoff);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
    }
    auto note = co_await conn->next_notification(std::chrono::milliseconds(200));
    if (!note || !*note) continue;  // broken (reconnect above) or nothing within the period
    auto parsed = parse_payload((*note)->payload);
    if (!parsed) {
      spdlog::warn("mail store: ignoring a malformed change notification");
      continue;
    }
    if (parsed->first == s->node) continue;  // ours: published locally at commit
    s->remote_events.fetch_add(1);
    s->feed.publish(parsed->second);
  }
}

}  // namespace

// ---- PgMailStore ----

Task<std::unique_ptr<PgMailStore>> PgMailStore::open(asio::any_io_executor executor, const PgMailStoreOptions& options,
                                                      BlockingPool& blocking) {
  auto shared = std::make_shared<PgShared>(executor, options, blocking);
  if (!valid_channel(shared->options.channel)) co_return make_error(Errc::kInvalid, "invalid NOTIFY channel name");
  {
    auto migrating = migrate_on_own_connection(shared->executor, shared->options.pool.connect, &migrate_mail_schema);
    auto migrated = co_await std::move(migrating);
    if (!migrated) co_return migrated.error();
  }
  // Listening before open() returns: nothing another node commits after this is missed.
  auto listener = co_await listen_connection(shared);
  if (!listener) co_return listener.error();
  asio::co_spawn(shared->executor, listen_loop(shared, std::move(*listener)), asio::detached);
  co_return std::unique_ptr<PgMailStore>(new PgMailStore(std::move(shared)));
}

PgMailStore::~PgMailStore() { shared_->stopped = true; }

ChangeFeed& PgMailStore::feed() { return shared_->feed; }
const std::string& PgMailStore::node() const { return shared_->node; }
uint64_t PgMailStore::remote_events() const { return shared_->remote_events.load(); }

Task<std::shared_ptr<Account>> PgMailStore::account(AccountId id, Limits limits) {
  if (id <= 0) co_return account_gone();
  bool known = false;
  {
    std::lock_guard lock(shared_->known_mu);
    known = shared_->known.count(id) != 0;
  }
  if (!known) {
    WriteBody<void> body = [id](Connection& c, std::vector<ChangeEvent>&) { return ensure_account(c, id, now_seconds()); };
    auto made = co_await transact(shared_, std::move(body));
    if (!made) co_return made.error();
    std::lock_guard lock(shared_->known_mu);
    shared_->known.insert(id);
  }
  std::lock_guard lock(shared_->known_mu);
  if (auto alive = shared_->live[id].lock()) {
    std::static_pointer_cast<PgAccount>(alive)->set_limits(limits);
    co_return alive;
  }
  auto made = std::make_shared<PgAccount>(id, shared_, limits);
  shared_->live[id] = made;
  std::erase_if(shared_->live, [](const auto& entry) { return entry.second.expired(); });
  co_return std::shared_ptr<Account>(std::move(made));
}

namespace {

Task<AppendResult> deliver_one(PgShared& s, Connection& c, std::vector<ChangeEvent>& events, AccountId account,
                               std::string mailbox, Limits limits, const NewMessage* message) {
  const int64_t now = now_seconds();
  if (auto made = co_await ensure_account(c, account, now); !made) co_return made.error();
  auto canonical = canonical_mailbox_name(mailbox);
  Result<MailboxInfo> box = make_error(Errc::kNotFound, "no such mailbox");
  if (canonical) {
    auto found = co_await mailbox_by_name(c, account, *canonical);
    box = std::move(found);
  }
  if (!box && box.error().code == Errc::kNotFound) {
    auto inbox = co_await mailbox_by_name(c, account, "INBOX");
    box = std::move(inbox);
  }
  if (!box) co_return box.error();
  std::vector<const NewMessage*> one{message};
  auto appended = co_await append_rows(s, c, events, account, box->id, one, limits, now);
  if (!appended) co_return appended.error();
  co_return appended->front();
}

}  // namespace

Task<std::vector<Result<AppendResult>>> PgMailStore::deliver(Delivery delivery) {
  std::vector<std::pair<std::string, Flags>> per_target;
  std::vector<Result<AppendResult>> results;
  for (auto& t : delivery.targets) {
    auto flags = checked_flags(t.flags);
    results.push_back(flags ? Result<AppendResult>(AppendResult{}) : Result<AppendResult>(flags.error()));
    per_target.emplace_back(t.prefix, flags ? std::move(*flags) : Flags{});
  }
  auto prepared_task = run_blocking(
      shared_->blocking,
      [message = delivery.message, per_target = std::move(per_target)]() mutable -> Result<std::vector<NewMessage>> {
        std::shared_ptr<const std::string> bytes = message ? message : std::make_shared<const std::string>();
        if (has_bare_lf(*bytes)) bytes = std::make_shared<const std::string>(normalize_crlf(*bytes));
        const std::string hash = sha256_hex(*bytes);
        const int64_t now = now_seconds();
        std::optional<mime::MessageSummary> parsed;
        if (mime::joins_header(*bytes)) parsed = mime::summarize(*bytes);
        std::vector<NewMessage> out;
        for (auto& [prefix, flags] : per_target) {
          NewMessage m;
          m.blob = hash;
          m.memory = bytes;
          describe(m, *bytes, std::move(prefix), std::move(flags), std::nullopt, now, parsed ? &*parsed : nullptr);
          out.push_back(std::move(m));
        }
        return out;
      });
  auto prepared = co_await std::move(prepared_task);
  if (!prepared) {
    for (auto& r : results) r = prepared.error();
    co_return results;
  }
  PgShared* s = shared_.get();
  for (std::size_t i = 0; i < delivery.targets.size(); ++i) {
    if (!results[i]) continue;
    const DeliveryTarget& target = delivery.targets[i];
    if (target.account <= 0) {
      results[i] = account_gone();
      continue;
    }
    const AccountId account = target.account;
    const std::string mailbox = target.mailbox;
    const Limits limits = target.limits;
    const NewMessage* message = &(*prepared)[i];
    WriteBody<AppendResult> body = [s, account, mailbox, limits, message](Connection& c, std::vector<ChangeEvent>& events) {
      return deliver_one(*s, c, events, account, mailbox, limits, message);
    };
    auto r = co_await transact(shared_, std::move(body));
    results[i] = std::move(r);
    if (results[i]) {
      std::lock_guard lock(shared_->known_mu);
      shared_->known.insert(account);
    }
  }
  co_return results;
}

Task<void> PgMailStore::delete_account(AccountId id) {
  if (id <= 0) co_return account_gone();
  {
    std::lock_guard lock(shared_->known_mu);
    shared_->known.erase(id);
  }
  WriteBody<void> body = [id](Connection& c, std::vector<ChangeEvent>&) { return delete_account_rows(c, id); };
  auto r = co_await transact(shared_, std::move(body));
  {
    std::lock_guard lock(shared_->known_mu);
    shared_->known.erase(id);
  }
  co_return r;
}

}  // namespace posthorn::store::pg
