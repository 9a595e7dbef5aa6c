// SEARCH, SORT and THREAD and their UID forms [RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 5256], with
// ESEARCH [RFC 4731], ESORT [RFC 5267 §3], SEARCHRES "$" [RFC 5182], PARTIAL [RFC 9394] and
// CONTEXT=SEARCH updates (RETURN (UPDATE), CANCELUPDATE) [RFC 5267 §4]. Parsing is
// proto/imap/search.*, evaluation server/imap/search_engine.*; this file feeds them the session's
// view and writes the replies.
//
// Implementation notes:
// - The engine sees the session's view in sequence order. Metadata for it is read from the store
//   in batches; a message another session expunged that this session has not been told about yet
//   keeps its sequence number (no EXPUNGE may be sent during SEARCH by number) but never matches.
// - IMAP4rev2 answers every SEARCH with ESEARCH [RFC 9051 §6.4.4]; IMAP4rev1 only with RETURN.
// - RETURN (UPDATE) searches are re-evaluated after the session has applied other sessions' (and its
//   own) changes (sync). Messages that start matching are sent as ADDTO, messages that stop matching
//   but still exist as REMOVEFROM; an expunged message of a result gets a REMOVEFROM just before
//   its EXPUNGE/VANISHED, numbered as before it (remove_from_updates), and stays in the result until
//   then [RFC 5267 §4.3]. At most kMaxUpdates run at once; more get NOUPDATE [RFC 5267 §4.4].
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/ascii.hpp"
#include "proto/imap/response.hpp"
#include "proto/imap/search.hpp"
#include "server/imap/search_engine.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

namespace {

constexpr size_t kBatch = 4096;       // messages' metadata read from the index at a time
constexpr size_t kMaxUpdates = 8;     // RETURN (UPDATE) searches kept per session

enum class Kind { kSearch, kSort, kThread };

Kind kind_of(std::string_view name) {
  if (name.ends_with("SORT")) return Kind::kSort;
  if (name.ends_with("THREAD")) return Kind::kThread;
  return Kind::kSearch;
}

// What the engine runs over: the view's messages in sequence order, and the UIDs among them that
// are no longer in the store (expunged elsewhere, not yet announced), ascending.
struct SearchInput {
  std::vector<store::MessageData> messages;
  std::vector<store::Uid> gone;
};

asio::awaitable<Result<SearchInput>> load_view(store::Mailbox& mailbox, const std::vector<store::Uid>& uids) {
  SearchInput in;
  in.messages.reserve(uids.size());
  for (size_t start = 0; start < uids.size(); start += kBatch) {
    std::vector<store::Uid> batch(uids.begin() + static_cast<std::ptrdiff_t>(start),
                                  uids.begin() + static_cast<std::ptrdiff_t>(std::min(uids.size(), start + kBatch)));
    auto task = mailbox.fetch(batch, false);
    auto data = co_await std::move(task);
    if (!data) co_return data.error();
    // fetch() skips missing UIDs: walk both ascending lists and fill the holes with placeholders.
    size_t j = 0;
    for (store::Uid uid : batch) {
      if (j < data->size() && (*data)[j].info.uid == uid) {
        in.messages.push_back(std::move((*data)[j++]));
        continue;
      }
      store::MessageData placeholder;
      placeholder.info.uid = uid;
      in.messages.push_back(std::move(placeholder));
      in.gone.push_back(uid);
    }
  }
  co_return in;
}

bool is_gone(const std::vector<store::Uid>& gone, store::Uid uid) {
  return std::binary_search(gone.begin(), gone.end(), uid);
}

// True when the arguments ask for RETURN (SAVE): a search that fails to parse still resets "$".
bool mentions_save(std::string_view args) {
  const std::string upper = ascii::upper(args);
  return upper.find("RETURN") != std::string::npos && upper.find("SAVE") != std::string::npos;
}

}  // namespace

asio::awaitable<std::string> Session::cmd_search(const std::string& tag, const std::string& name,
                                                 const pi::Search& args) {
  const Kind kind = kind_of(name);
  pi::SearchProgram search;  // for kSearch, and the search part of SORT/THREAD
  pi::SortProgram sort;
  pi::ThreadProgram thread;
  std::optional<pi::SearchError> error;
  switch (kind) {
    case Kind::kSearch: {
      auto p = pi::parse_search(args.args);
      if (p) search = std::move(*p); else error = p.error();
      break;
    }
    case Kind::kSort: {
      auto p = pi::parse_sort(args.args);
      if (p) sort = std::move(*p); else error = p.error();
      break;
    }
    case Kind::kThread: {
      auto p = pi::parse_thread(args.args);
      if (p) thread = std::move(*p); else error = p.error();
      break;
    }
  }
  if (error) {
    // A failed SEARCH ... RETURN (SAVE) leaves "$" empty [RFC 5182 §2.1].
    if (mentions_save(args.args)) view_.save_result({});
    co_return pi::search_error_reply(tag, *error);
  }

  auto loaded = co_await load_view(*mailbox_, view_.uids());
  if (!loaded) co_return pi::store_failure(tag, loaded.error());
  const SearchInput& input = *loaded;
  SearchContext ctx{.messages = input.messages,
                    .recent = rev2_ ? std::span<const store::UidRange>{} : std::span<const store::UidRange>(view_.recent()),
                    .saved = view_.saved_result(),
                    .mailbox = mailbox_.get(),
                    .uid = args.uid};
  // Leaves out messages that are gone; `numbers` are UIDs or sequence numbers as the command asked.
  auto drop_gone = [&](std::vector<uint32_t>& numbers) {
    if (input.gone.empty()) return;
    std::erase_if(numbers, [&](uint32_t n) { return is_gone(input.gone, args.uid ? n : view_.uid_at(n)); });
  };

  if (kind == Kind::kThread) {
    auto task = run_thread(thread, ctx);
    auto roots = co_await std::move(task);
    if (!roots) co_return pi::store_failure(tag, roots.error());
    co_await out(pi::format_thread(*roots));
    co_return pi::tagged(tag, Status::kOk, name + " completed");
  }

  if (kind == Kind::kSort) {
    auto task = run_sort(sort, ctx);
    auto result = co_await std::move(task);
    if (!result) co_return pi::store_failure(tag, result.error());
    drop_gone(result->numbers);
    if (result->saved) view_.save_result(std::move(*result->saved));
    if (result->modseq_key) co_await enable_condstore();
    if (sort.ret.update) {
      co_await out(pi::untagged(Status::kNo, "NOUPDATE " + pi::quoted(tag), "Updates are kept for SEARCH only"));
    }
    if (sort.ret.present) {
      if (pi::esearch_reply_wanted(sort.ret)) {
        co_await out(pi::format_esearch(tag, args.uid, sort.ret, result->numbers, result->modseq, true));
      }
    } else {
      co_await out(pi::format_search(result->numbers, result->modseq, "SORT"));
    }
    co_return pi::tagged(tag, Status::kOk, name + " completed");
  }

  auto task = run_search(search, ctx);
  auto result = co_await std::move(task);
  if (!result) co_return pi::store_failure(tag, result.error());
  drop_gone(result->numbers);
  std::erase_if(result->uids, [&](store::Uid uid) { return is_gone(input.gone, uid); });
  if (result->saved) view_.save_result(std::move(*result->saved));
  // A MODSEQ search key turns CONDSTORE on for the session [RFC 7162 §3.1].
  if (result->modseq_key) co_await enable_condstore();
  if (search.ret.present || rev2_) {
    if (pi::esearch_reply_wanted(search.ret)) {
      co_await out(pi::format_esearch(tag, args.uid, search.ret, result->numbers, result->modseq));
    }
  } else {
    co_await out(pi::format_search(result->numbers, result->modseq));
  }
  if (search.ret.update) {
    std::erase_if(updates_, [&](const UpdateSearch& u) { return u.tag == tag; });
    if (updates_.size() >= kMaxUpdates) {
      co_await out(pi::untagged(Status::kNo, "NOUPDATE " + pi::quoted(tag), "Too many searches are being updated"));
    } else {
      UpdateSearch u{.tag = tag, .program = std::move(search), .uid = args.uid, .matches = std::move(result->uids)};
      u.program.ret.save = false;  // an update never changes "$"
      updates_.push_back(std::move(u));
    }
  }
  co_return pi::tagged(tag, Status::kOk, name + " completed");
}

std::string Session::cmd_cancel_update(const std::string& tag, const pi::CancelUpdate& args) {
  for (const auto& t : args.tags) {
    std::erase_if(updates_, [&](const UpdateSearch& u) { return u.tag == t; });
  }
  return pi::tagged(tag, Status::kOk, "CANCELUPDATE completed");
}

asio::awaitable<void> Session::refresh_updates() {
  auto loaded = co_await load_view(*mailbox_, view_.uids());
  if (!loaded) {
    spdlog::warn("conn={} imap: cannot refresh search updates: {}", id(), loaded.error().message);
    co_return;
  }
  const SearchInput& input = *loaded;
  for (auto& u : updates_) {
    if (broken_) co_return;
    SearchContext ctx{.messages = input.messages,
                      .recent = rev2_ ? std::span<const store::UidRange>{} : std::span<const store::UidRange>(view_.recent()),
                      .saved = view_.saved_result(),
                      .mailbox = mailbox_.get(),
                      .uid = u.uid};
    auto task = run_search(u.program, ctx);
    auto result = co_await std::move(task);
    if (!result) {
      spdlog::warn("conn={} imap: search update {} failed: {}", id(), u.tag, result.error().message);
      continue;
    }
    std::vector<store::Uid> now = std::move(result->uids);
    std::erase_if(now, [&](store::Uid uid) { return is_gone(input.gone, uid); });
    // Expunged but not announced yet: they leave the result with their EXPUNGE (remove_from_updates).
    for (store::Uid uid : u.matches) {
      if (is_gone(input.gone, uid) && view_.seq_of(uid)) now.push_back(uid);
    }
    std::sort(now.begin(), now.end());
    std::vector<store::Uid> added, removed;
    std::set_difference(now.begin(), now.end(), u.matches.begin(), u.matches.end(), std::back_inserter(added));
    std::set_difference(u.matches.begin(), u.matches.end(), now.begin(), now.end(), std::back_inserter(removed));
    auto numbers = [&](const std::vector<store::Uid>& uids) {
      std::vector<uint32_t> out;
      for (store::Uid uid : uids) {
        const auto seq = view_.seq_of(uid);
        if (!seq || is_gone(input.gone, uid)) continue;
        out.push_back(u.uid ? uid : *seq);
      }
      return out;
    };
    const auto add_numbers = numbers(added);
    const auto remove_numbers = numbers(removed);
    // REMOVEFROM first: ADDTO positions then refer to the list without the removed messages.
    co_await out(pi::format_esearch_update(u.tag, u.uid, false, remove_numbers));
    co_await out(pi::format_esearch_update(u.tag, u.uid, true, add_numbers));
    u.matches = std::move(now);
  }
}

asio::awaitable<void> Session::remove_from_updates(std::vector<store::Uid> gone) {
  if (updates_.empty() || gone.empty()) co_return;
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  for (auto& u : updates_) {
    std::vector<store::Uid> hit, rest;
    std::set_intersection(u.matches.begin(), u.matches.end(), gone.begin(), gone.end(), std::back_inserter(hit));
    if (hit.empty()) continue;
    std::set_difference(u.matches.begin(), u.matches.end(), hit.begin(), hit.end(), std::back_inserter(rest));
    u.matches.swap(rest);
    std::vector<uint32_t> numbers;
    for (store::Uid uid : hit) {
      if (auto seq = view_.seq_of(uid)) numbers.push_back(u.uid ? uid : *seq);
    }
    co_await out(pi::format_esearch_update(u.tag, u.uid, false, numbers));
  }
}

}  // namespace posthorn::server::imap
