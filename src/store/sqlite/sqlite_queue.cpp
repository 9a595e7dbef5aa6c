#include "store/sqlite/sqlite_queue.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/log.hpp"
#include "store/sqlite/blob_store.hpp"

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;
using queue::Entry;
using queue::NewEntry;
using queue::Recipient;
using queue::RecipientState;

namespace {

constexpr std::string_view kSchema = R"(
CREATE TABLE IF NOT EXISTS queue_entries(
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  is_bounce INTEGER NOT NULL,
  bounce_needed INTEGER NOT NULL,
  ret TEXT NOT NULL,
  envid TEXT NOT NULL,
  smtputf8 INTEGER NOT NULL,
  eight_bit INTEGER NOT NULL,
  delay_notified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS queue_entries_due ON queue_entries(next_attempt);
CREATE TABLE IF NOT EXISTS queue_recipients(
  entry TEXT NOT NULL REFERENCES queue_entries(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  address TEXT NOT NULL,
  state INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  notify INTEGER NOT NULL,
  orcpt TEXT NOT NULL,
  reported INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(entry, position)
);
)";

constexpr std::string_view kEntryColumns =
    "id, sender, size, created, next_attempt, is_bounce, bounce_needed, ret, envid, smtputf8, eight_bit, "
    "delay_notified";

// Columns added before queue.db kept a schema version: added to such a file when missing.
constexpr std::string_view kAddedColumns[][3] = {
    {"queue_entries", "delay_notified", "ALTER TABLE queue_entries ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0"},
    {"queue_recipients", "reported", "ALTER TABLE queue_recipients ADD COLUMN reported INTEGER NOT NULL DEFAULT 0"},
};

Result<void> add_missing_columns(Db& db) {
  for (const auto& [table, column, sql] : kAddedColumns) {
    auto st = db.prepare("SELECT 1 FROM pragma_table_info('" + std::string(table) + "') WHERE name = ?1");
    if (!st) return st.error();
    st->bind(1, column);
    auto row = st->step();
    if (!row) return row.error();
    if (*row) continue;
    if (auto r = db.exec(sql); !r) return r.error();
  }
  return {};
}

// Version 1 is idempotent, as files from before the version have 0: the tables when absent, then the
// columns a file of an older release lacks.
const Migration kMigrations[] = {{kSchema, add_missing_columns}};

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error not_found() { return make_error(Errc::kNotFound, "no such queue entry"); }

Entry entry_from_row(const Stmt& st) {
  Entry e;
  e.id = st.column_text(0);
  e.sender = st.column_text(1);
  e.size = uint64_t(st.column_int(2));
  e.created = st.column_int(3);
  e.next_attempt = st.column_int(4);
  e.is_bounce = st.column_int(5) != 0;
  e.bounce_needed = st.column_int(6) != 0;
  e.ret = st.column_text(7);
  e.envid = st.column_text(8);
  e.smtputf8 = st.column_int(9) != 0;
  e.eight_bit = st.column_int(10) != 0;
  e.delay_notified = st.column_int(11) != 0;
  return e;
}

}  // namespace

Result<std::unique_ptr<SqliteQueue>> SqliteQueue::open(const fs::path& data_dir, BlockingPool& pool) {
  const fs::path spool = data_dir / "queue";
  if (auto r = make_durable_dir(data_dir); !r) return r.error();
  if (auto r = make_durable_dir(spool); !r) return r.error();
  if (auto r = make_durable_dir(spool / "tmp"); !r) return r.error();
  auto db = Db::open_with_schema(data_dir / "queue.db", DbOptions{}, "queue.db", kMigrations);
  if (!db) return db.error();
  std::unique_ptr<SqliteQueue> q(new SqliteQueue(std::move(*db), spool, pool));
  auto removed = q->remove_orphans();
  if (!removed) return removed.error();
  if (*removed > 0) spdlog::info("queue: removed {} spool files without an entry", *removed);
  return q;
}

Result<std::size_t> SqliteQueue::remove_orphans() {
  std::lock_guard lock(mu_);
  std::size_t removed = 0;
  for (const fs::path& dir : {spool_, spool_ / "tmp"}) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) continue;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name != "." && name != ".." && name != "tmp") names.emplace_back(name);
    }
    ::closedir(d);
    for (const auto& name : names) {
      bool keep = false;
      if (dir == spool_ && queue::is_entry_id(name)) {
        auto st = db_.prepare("SELECT 1 FROM queue_entries WHERE id = ?1");
        if (!st) return st.error();
        st->bind(1, name);
        auto row = st->step();
        if (!row) return row.error();
        keep = *row;
      }
      if (!keep && ::unlink((dir / name).c_str()) == 0) ++removed;
    }
  }
  return removed;
}

Result<std::string> SqliteQueue::enqueue_blocking(NewEntry entry) {
  if (entry.recipients.empty()) return make_error(Errc::kInvalid, "a queue entry needs a recipient");
  const int64_t now = now_seconds();
  Entry e;
  e.id = queue::new_entry_id();
  e.sender = std::move(entry.sender);
  e.recipients = std::move(entry.recipients);
  e.created = now;
  e.next_attempt = entry.next_attempt == 0 ? now : entry.next_attempt;
  e.is_bounce = entry.is_bounce;
  e.bounce_needed = entry.bounce_needed;
  e.ret = std::move(entry.ret);
  e.envid = std::move(entry.envid);
  e.smtputf8 = entry.smtputf8;
  e.eight_bit = entry.eight_bit;
  if (auto r = insert_blocking(e, entry.message); !r) return r.error();
  return e.id;
}

Result<void> SqliteQueue::import_entry_blocking(const Entry& entry, std::string_view message) {
  if (!queue::is_entry_id(entry.id)) return make_error(Errc::kInvalid, "malformed queue id");
  if (entry.recipients.empty()) return make_error(Errc::kInvalid, "a queue entry needs a recipient");
  {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT 1 FROM queue_entries WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, entry.id);
    auto row = st->step();
    if (!row) return row.error();
    if (*row) return make_error(Errc::kExists, "queue entry " + entry.id + " exists");
  }
  return insert_blocking(entry, message);
}

Result<void> SqliteQueue::insert_blocking(const Entry& entry, std::string_view message) {
  const std::string& id = entry.id;
  // The bytes first: a committed row always names a durable file.
  if (auto r = write_durably(spool_ / "tmp" / id, spool_path(id), message); !r) return r.error();
  std::lock_guard lock(mu_);
  auto fail = [&](Error e) -> Result<void> {
    ::unlink(spool_path(id).c_str());
    return e;
  };
  auto tx = Transaction::begin(db_);
  if (!tx) return fail(tx.error());
  auto st = db_.prepare("INSERT INTO queue_entries(" + std::string(kEntryColumns) +
                        ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  if (!st) return fail(st.error());
  st->bind(1, id)
      .bind(2, entry.sender)
      .bind(3, int64_t(message.size()))
      .bind(4, entry.created)
      .bind(5, entry.next_attempt)
      .bind(6, int64_t(entry.is_bounce))
      .bind(7, int64_t(entry.bounce_needed))
      .bind(8, entry.ret)
      .bind(9, entry.envid)
      .bind(10, int64_t(entry.smtputf8))
      .bind(11, int64_t(entry.eight_bit))
      .bind(12, int64_t(entry.delay_notified));
  if (auto r = st->run(); !r) return fail(r.error());
  auto rs = db_.prepare(
      "INSERT INTO queue_recipients(entry, position, address, state, last_error, attempts, notify, orcpt, reported) "
      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!rs) return fail(rs.error());
  for (std::size_t i = 0; i < entry.recipients.size(); ++i) {
    const Recipient& r = entry.recipients[i];
    rs->reset();
    rs->bind(1, id)
        .bind(2, int64_t(i))
        .bind(3, r.address)
        .bind(4, int64_t(r.state))
        .bind(5, r.last_error)
        .bind(6, int64_t(r.attempts))
        .bind(7, int64_t(r.notify))
        .bind(8, r.orcpt)
        .bind(9, int64_t(r.reported));
    if (auto run = rs->run(); !run) return fail(run.error());
  }
  if (auto r = tx->commit(); !r) return fail(r.error());
  return {};
}

Result<void> SqliteQueue::load_recipients(Entry& entry) {
  auto st = db_.prepare(
      "SELECT address, state, last_error, attempts, notify, orcpt, reported FROM queue_recipients WHERE entry = ?1 "
      "ORDER BY position");
  if (!st) return st.error();
  st->bind(1, entry.id);
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return {};
    Recipient r;
    r.address = st->column_text(0);
    r.state = queue::recipient_state(st->column_int(1));
    r.last_error = st->column_text(2);
    r.attempts = uint32_t(st->column_int(3));
    r.notify = uint8_t(st->column_int(4));
    r.orcpt = st->column_text(5);
    r.reported = st->column_int(6) != 0;
    entry.recipients.push_back(std::move(r));
  }
}

Result<std::vector<Entry>> SqliteQueue::select(std::string_view where, std::optional<int64_t> param) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT " + std::string(kEntryColumns) + " FROM queue_entries " + std::string(where));
  if (!st) return st.error();
  if (param) st->bind(1, *param);
  std::vector<Entry> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(entry_from_row(*st));
  }
  for (auto& e : out) {
    if (auto r = load_recipients(e); !r) return r.error();
  }
  return out;
}

Result<Entry> SqliteQueue::get_blocking(std::string_view id) {
  if (!queue::is_entry_id(id)) return not_found();
  std::vector<Entry> found;
  {
    std::lock_guard lock(mu_);
    auto st = db_.prepare("SELECT " + std::string(kEntryColumns) + " FROM queue_entries WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return not_found();
    found.push_back(entry_from_row(*st));
    if (auto r = load_recipients(found.front()); !r) return r.error();
  }
  return std::move(found.front());
}


Result<std::string> SqliteQueue::read_message_blocking(std::string_view id) {
  if (!queue::is_entry_id(id)) return not_found();
  const fs::path path = spool_path(id);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return not_found();
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return make_error(Errc::kInternal, "queue spool error");
  }
  BlobReader reader(fd, uint64_t(st.st_size));  // takes the descriptor
  return reader.read(0, std::size_t(st.st_size));
}

Result<void> SqliteQueue::record_attempt_blocking(std::string_view id, const queue::Attempt& attempt) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  if (attempt.bounce_needed) {
    if (auto r = set_entry_value_locked("UPDATE queue_entries SET bounce_needed = ?2 WHERE id = ?1", id, 1); !r) return r;
  }
  if (!attempt.recipients.empty()) {
    auto st = db_.prepare(
        "UPDATE queue_recipients SET state = ?3, last_error = ?4, attempts = attempts + 1 "
        "WHERE entry = ?1 AND address = ?2 COLLATE NOCASE");
    if (!st) return st.error();
    for (const auto& u : attempt.recipients) {
      st->reset();
      st->bind(1, id).bind(2, u.address).bind(3, int64_t(u.state)).bind(4, u.last_error);
      if (auto r = st->run(); !r) return r.error();
      if (db_.changes() == 0) return make_error(Errc::kNotFound, "no such queue entry or recipient");
    }
  }
  if (attempt.next_attempt) {
    if (auto r = set_entry_value_locked("UPDATE queue_entries SET next_attempt = ?2 WHERE id = ?1", id,
                                        *attempt.next_attempt);
        !r) {
      return r;
    }
  }
  if (!attempt.bounce_needed && attempt.recipients.empty() && !attempt.next_attempt) {
    // Nothing to change: still kNotFound for an entry that is gone.
    auto st = db_.prepare("SELECT 1 FROM queue_entries WHERE id = ?1");
    if (!st) return st.error();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) return not_found();
  }
  return tx->commit();
}

Result<void> SqliteQueue::set_entry_value(std::string_view sql, std::string_view id, int64_t value) {
  std::lock_guard lock(mu_);
  return set_entry_value_locked(sql, id, value);
}

Result<void> SqliteQueue::set_entry_value_locked(std::string_view sql, std::string_view id, int64_t value) {
  auto st = db_.prepare(sql);
  if (!st) return st.error();
  st->bind(1, id).bind(2, value);
  if (auto r = st->run(); !r) return r.error();
  if (db_.changes() == 0) return not_found();
  return {};
}


Result<void> SqliteQueue::mark_reported_blocking(std::string_view id, const std::vector<std::string>& addresses) {
  std::lock_guard lock(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  auto st = db_.prepare("UPDATE queue_recipients SET reported = 1 WHERE entry = ?1 AND address = ?2 COLLATE NOCASE");
  if (!st) return st.error();
  for (const auto& address : addresses) {
    st->reset();
    st->bind(1, id).bind(2, address);
    if (auto r = st->run(); !r) return r.error();
  }
  auto clear = db_.prepare(
      "UPDATE queue_entries SET bounce_needed = EXISTS (SELECT 1 FROM queue_recipients r WHERE r.entry = ?1 "
      "AND r.state = 2 AND r.reported = 0) WHERE id = ?1");
  if (!clear) return clear.error();
  clear->bind(1, id);
  if (auto r = clear->run(); !r) return r.error();
  if (db_.changes() == 0) return not_found();
  return tx->commit();
}


Result<std::size_t> SqliteQueue::retry_blocking(std::optional<std::string_view> id, int64_t now) {
  if (id && !queue::is_entry_id(*id)) return not_found();
  std::lock_guard lock(mu_);
  auto st = db_.prepare(id ? "UPDATE queue_entries SET next_attempt = ?2 WHERE id = ?1"
                           : "UPDATE queue_entries SET next_attempt = ?2");
  if (!st) return st.error();
  if (id) st->bind(1, *id);
  st->bind(2, now);
  if (auto r = st->run(); !r) return r.error();
  const auto changed = std::size_t(db_.changes());
  if (id && changed == 0) return not_found();
  return changed;
}

Result<void> SqliteQueue::remove_blocking(std::string_view id) {
  if (!queue::is_entry_id(id)) return not_found();
  std::lock_guard lock(mu_);
  auto st = db_.prepare("DELETE FROM queue_entries WHERE id = ?1");
  if (!st) return st.error();
  st->bind(1, id);
  if (auto r = st->run(); !r) return r.error();
  if (db_.changes() == 0) return not_found();
  // The row is gone first: a crash now leaves an orphan file, which open() removes.
  if (::unlink(spool_path(id).c_str()) != 0 && errno != ENOENT) {
    spdlog::warn("queue: unlink {}: {}", spool_path(id).string(), std::strerror(errno));
  }
  return {};
}

// ---- the Queue calls: each runs its blocking body on the pool ----

template <class T, class Fn>
Task<T> SqliteQueue::on_pool(Fn fn) {
  auto task = run_blocking(pool_, std::move(fn));
  auto result = co_await std::move(task);
  co_return result;
}

Task<std::string> SqliteQueue::enqueue(NewEntry entry) {
  return on_pool<std::string>([this, entry = std::move(entry)]() mutable { return enqueue_blocking(std::move(entry)); });
}

Task<Entry> SqliteQueue::get(std::string id) {
  return on_pool<Entry>([this, id = std::move(id)] { return get_blocking(id); });
}

Task<std::vector<Entry>> SqliteQueue::list() {
  return on_pool<std::vector<Entry>>([this] { return select("ORDER BY created, id", std::nullopt); });
}

Task<std::vector<Entry>> SqliteQueue::due(int64_t now) {
  return on_pool<std::vector<Entry>>([this, now] {
    return select(
        "WHERE next_attempt <= ?1 AND (bounce_needed != 0 OR EXISTS (SELECT 1 FROM queue_recipients r "
        "WHERE r.entry = queue_entries.id AND r.state = 0)) ORDER BY next_attempt, id",
        now);
  });
}

Task<std::string> SqliteQueue::read_message(std::string id) {
  return on_pool<std::string>([this, id = std::move(id)] { return read_message_blocking(id); });
}

Task<void> SqliteQueue::record_attempt(std::string id, queue::Attempt attempt) {
  return on_pool<void>([this, id = std::move(id), attempt = std::move(attempt)] { return record_attempt_blocking(id, attempt); });
}

Task<void> SqliteQueue::set_next_attempt(std::string id, int64_t next_attempt) {
  return on_pool<void>([this, id = std::move(id), next_attempt] {
    return set_entry_value("UPDATE queue_entries SET next_attempt = ?2 WHERE id = ?1", id, next_attempt);
  });
}

Task<void> SqliteQueue::mark_reported(std::string id, std::vector<std::string> addresses) {
  return on_pool<void>([this, id = std::move(id), addresses = std::move(addresses)] { return mark_reported_blocking(id, addresses); });
}

Task<void> SqliteQueue::set_delay_notified(std::string id) {
  return on_pool<void>([this, id = std::move(id)] {
    return set_entry_value("UPDATE queue_entries SET delay_notified = ?2 WHERE id = ?1", id, 1);
  });
}

Task<std::size_t> SqliteQueue::retry(std::optional<std::string> id, int64_t now) {
  return on_pool<std::size_t>([this, id = std::move(id), now] {
    return retry_blocking(id ? std::optional<std::string_view>(*id) : std::nullopt, now);
  });
}

Task<void> SqliteQueue::import_entry(Entry entry, std::string message) {
  return on_pool<void>([this, entry = std::move(entry), message = std::move(message)] {
    return import_entry_blocking(entry, message);
  });
}

Task<void> SqliteQueue::remove(std::string id) {
  return on_pool<void>([this, id = std::move(id)] { return remove_blocking(id); });
}

}  // namespace posthorn::store::sqlite
