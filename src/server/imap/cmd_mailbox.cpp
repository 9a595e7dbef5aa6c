// Authenticated-state mailbox commands: ENABLE [RFC 5161], ID [RFC 2971], NAMESPACE [RFC 2342],
// CREATE (CREATE-SPECIAL-USE [RFC 6154]), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (LIST-EXTENDED
// [RFC 5258], LIST-STATUS [RFC 5819], CHILDREN [RFC 3348], SPECIAL-USE [RFC 6154]), LSUB and STATUS
// (STATUS=SIZE [RFC 8438], HIGHESTMODSEQ [RFC 7162], APPENDLIMIT [RFC 7889]) [RFC 9051 §6.3].
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "base/ascii.hpp"
#include "proto/imap/list_pattern.hpp"
#include "proto/imap/mutf7.hpp"
#include "proto/imap/response.hpp"
#include "server/imap/imap_format.hpp"
#include "server/imap/session.hpp"

namespace posthorn::server::imap {

namespace asio = boost::asio;
namespace pi = proto::imap;
using pi::Status;

std::string Session::cmd_enable(const std::string& tag, const pi::Enable& args) {
  std::string enabled;
  auto note = [&enabled](bool& flag, std::string_view name) {
    if (!flag) {
      flag = true;
      enabled += ' ';
      enabled += name;
    }
  };
  for (const auto& cap : args.capabilities) {
    if (cap == "CONDSTORE") {
      note(condstore_, "CONDSTORE");
    } else if (cap == "QRESYNC") {
      note(qresync_, "QRESYNC");
      condstore_ = true;  // QRESYNC implies CONDSTORE [RFC 7162 §3.2.3]
    } else if (cap == "IMAP4REV2") {
      note(rev2_, "IMAP4rev2");
    } else if (cap == "UTF8=ACCEPT") {
      note(utf8_, "UTF8=ACCEPT");
    }
  }
  // "* ENABLED" lists only what this command newly enabled [RFC 5161 §3.2].
  return pi::untagged_data("ENABLED" + enabled) + pi::tagged(tag, Status::kOk, "ENABLE completed");
}

asio::awaitable<std::string> Session::cmd_id(const std::string& tag, const pi::Id& args) {
  if (!args.params.empty()) {
    std::string client;
    for (const auto& [k, v] : args.params) {
      if (ascii::iequals(k, "name") || ascii::iequals(k, "version")) client += (client.empty() ? "" : " ") + v.value_or("");
    }
    spdlog::debug("conn={} imap: client id {}", id(), client);
  }
  co_await out(pi::untagged_data("ID (\"name\" \"Posthorn\")"));
  co_return pi::tagged(tag, Status::kOk, "ID completed");
}

asio::awaitable<std::string> Session::cmd_namespace(const std::string& tag) {
  // One personal namespace, no prefix, "/" separator [RFC 2342].
  co_await out(pi::untagged_data("NAMESPACE ((\"\" \"/\")) NIL NIL"));
  co_return pi::tagged(tag, Status::kOk, "NAMESPACE completed");
}

asio::awaitable<std::string> Session::cmd_create(const std::string& tag, const pi::Create& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  store::SpecialUse use = store::SpecialUse::kNone;
  for (const auto& u : args.use) {
    use = special_use_from_name(u);
    if (use == store::SpecialUse::kNone) {
      co_return pi::tagged(tag, Status::kNo, "USEATTR", "Unsupported special-use attribute " + u);
    }
  }
  if (args.use.size() > 1) co_return pi::tagged(tag, Status::kNo, "USEATTR", "Only one special-use attribute per mailbox");
  auto created_task = account_->create_mailbox(*name, use);
  auto created = co_await std::move(created_task);
  if (!created) co_return pi::store_failure(tag, created.error());
  co_return pi::tagged(tag, Status::kOk, "CREATE completed");
}

asio::awaitable<std::string> Session::cmd_delete(const std::string& tag, const pi::Delete& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  auto done_task = account_->delete_mailbox(*name);
  auto done = co_await std::move(done_task);
  if (!done) co_return pi::store_failure(tag, done.error(), pi::StoreCall::kDelete);
  co_return pi::tagged(tag, Status::kOk, "DELETE completed");
}

asio::awaitable<std::string> Session::cmd_rename(const std::string& tag, const pi::Rename& args) {
  auto from = mailbox_name(args.from);
  if (!from) co_return pi::store_failure(tag, from.error());
  auto to = mailbox_name(args.to);
  if (!to) co_return pi::store_failure(tag, to.error());
  auto done_task = account_->rename_mailbox(*from, *to);
  auto done = co_await std::move(done_task);
  if (!done) co_return pi::store_failure(tag, done.error());
  co_return pi::tagged(tag, Status::kOk, "RENAME completed");
}

asio::awaitable<std::string> Session::cmd_subscribe(const std::string& tag, const pi::Subscribe& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  auto done_task = account_->set_subscribed(*name, args.subscribe);
  auto done = co_await std::move(done_task);
  if (!done) co_return pi::store_failure(tag, done.error());
  co_return pi::tagged(tag, Status::kOk, args.subscribe ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed");
}

namespace {

struct ListEntry {
  std::string name;
  const store::MailboxInfo* info = nullptr;  // null: subscribed but not existing
  bool subscribed = false;
  bool has_children = false;
  // A subscribed descendant that the patterns do not match (so it is not listed itself): LSUB's
  // \Noselect parents and RECURSIVEMATCH's CHILDINFO.
  bool unlisted_subscribed_child = false;
};

bool is_child_of(std::string_view child, std::string_view parent) {
  return child.size() > parent.size() + 1 && child.substr(0, parent.size()) == parent &&
         child[parent.size()] == store::kSeparator;
}

// The patterns of a LIST, joined with its reference and decoded from modified UTF-7.
std::vector<std::string> list_patterns(const pi::List& args, bool utf8_names) {
  std::vector<std::string> patterns;
  for (const auto& p : args.patterns) {
    const std::string joined = pi::join_list_pattern(args.reference, p, store::kSeparator);
    // A pattern is not a mailbox name: one that is not valid modified UTF-7 (a bare "&" in
    // "!#$&'+,-.%") is legal LIST syntax [RFC 3501 §6.3.8, list-mailbox] and is matched as written
    // (as Dovecot does), so it lists what it can match, usually nothing; never BAD.
    auto decoded = pi::mailbox_from_wire(joined, utf8_names);
    patterns.push_back(decoded ? std::move(*decoded) : joined);
  }
  return patterns;
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [name](const std::string& p) { return pi::list_match(p, name, store::kSeparator); });
}

// All candidates in name order: the existing mailboxes, plus (when subscriptions were read) the
// subscribed names that do not exist and, for LSUB, their parents; each with what its descendants
// tell (children, subscribed descendants the patterns do not match).
std::vector<ListEntry> list_candidates(const pi::List& args, const std::vector<store::MailboxInfo>& mailboxes,
                                       const std::optional<std::set<std::string>>& subscribed,
                                       const std::vector<std::string>& patterns) {
  std::vector<ListEntry> entries;
  for (const auto& m : mailboxes) {
    const bool sub = (subscribed && subscribed->count(m.name) > 0) || m.subscribed;
    entries.push_back(ListEntry{m.name, &m, sub, false, false});
  }
  if (subscribed) {
    for (const auto& s : *subscribed) {
      const bool exists = std::any_of(mailboxes.begin(), mailboxes.end(),
                                      [&s](const store::MailboxInfo& m) { return m.name == s; });
      if (!exists) entries.push_back(ListEntry{s, nullptr, true, false, false});
    }
    if (args.lsub) {
      // LSUB: the parents of subscribed names are candidates too (see list_shown).
      std::set<std::string> names;
      for (const auto& e : entries) names.insert(e.name);
      for (const auto& s : *subscribed) {
        for (size_t p = s.find(store::kSeparator); p != std::string::npos; p = s.find(store::kSeparator, p + 1)) {
          if (names.insert(s.substr(0, p)).second) entries.push_back(ListEntry{s.substr(0, p), nullptr, false, false, false});
        }
      }
    }
    std::sort(entries.begin(), entries.end(), [](const ListEntry& a, const ListEntry& b) { return a.name < b.name; });
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    // In name order the descendants follow their parent among the names it prefixes ("a", "a-b",
    // "a/b": '-' sorts before the separator).
    for (size_t j = i + 1; j < entries.size() && entries[j].name.starts_with(entries[i].name); ++j) {
      if (!is_child_of(entries[j].name, entries[i].name)) continue;
      if (entries[j].info != nullptr) entries[i].has_children = true;
      if (entries[j].subscribed && !matches_any(patterns, entries[j].name)) entries[i].unlisted_subscribed_child = true;
    }
  }
  return entries;
}

// How a candidate the patterns match shows in the response: its attributes, and whether
// CHILDINFO follows; nullopt when the selection options leave it out.
struct ListShown {
  std::string attrs;
  bool childinfo = false;
};

std::optional<ListShown> list_shown(const ListEntry& e, const pi::List& args) {
  // RECURSIVEMATCH: CHILDINFO for a parent whose subscribed descendant is not listed itself
  // [RFC 5258 §3.5, as Dovecot]: "a" with a/b subscribed for "%" or ("a"), not for ("a" "a/b").
  const bool recursive_parent =
      args.select_recursive && args.select_subscribed && !e.subscribed && e.unlisted_subscribed_child;
  // LSUB with "%": a parent of a subscribed mailbox the pattern does not reach is listed with
  // \Noselect when it is not subscribed itself [RFC 3501 §6.3.9].
  const bool lsub_parent = args.lsub && !e.subscribed && e.unlisted_subscribed_child;
  const bool only_subscribed = args.lsub || args.select_subscribed;
  if (only_subscribed && !e.subscribed && !recursive_parent && !lsub_parent) return std::nullopt;
  const store::SpecialUse use = e.info ? e.info->special_use : store::SpecialUse::kNone;
  if (args.select_special_use && use == store::SpecialUse::kNone) return std::nullopt;
  ListShown shown;
  shown.childinfo = recursive_parent;
  auto add = [&attrs = shown.attrs](std::string_view a) {
    if (!attrs.empty()) attrs += ' ';
    attrs += a;
  };
  if (e.info == nullptr || lsub_parent) {
    add(args.lsub ? "\\Noselect" : "\\NonExistent");
  } else if (!args.lsub) {
    add(e.has_children ? "\\HasChildren" : "\\HasNoChildren");
  }
  if (!args.lsub && (args.return_subscribed || args.select_subscribed) && e.subscribed) add("\\Subscribed");
  if (!args.lsub && use != store::SpecialUse::kNone) add(store::to_string(use));
  return shown;
}

}  // namespace

asio::awaitable<std::string> Session::cmd_list(const std::string& tag, const pi::List& args) {
  const char* verb = args.lsub ? "LSUB" : "LIST";
  // LIST "" "": the hierarchy separator and root [RFC 9051 §6.3.9].
  if (args.patterns.size() == 1 && args.patterns[0].empty() && !args.extended) {
    co_await out(pi::untagged_data(std::string(verb) + " (\\Noselect) \"/\" \"\""));
    co_return pi::tagged(tag, Status::kOk, std::string(verb) + " completed");
  }
  const std::vector<std::string> patterns = list_patterns(args, utf8_names());
  auto mailboxes = co_await account_->list_mailboxes();
  if (!mailboxes) co_return pi::store_failure(tag, mailboxes.error());
  std::optional<std::set<std::string>> subscribed;
  if (args.lsub || args.select_subscribed || args.return_subscribed) {
    auto subs = co_await account_->list_subscriptions();
    if (!subs) co_return pi::store_failure(tag, subs.error());
    subscribed.emplace(subs->begin(), subs->end());
  }
  const std::vector<ListEntry> entries = list_candidates(args, *mailboxes, subscribed, patterns);
  for (const auto& e : entries) {
    if (!matches_any(patterns, e.name)) continue;
    const auto shown = list_shown(e, args);
    if (!shown) continue;
    std::string line = std::string(verb) + " (" + shown->attrs + ") \"/\" " + wire_name(e.name);
    if (shown->childinfo) line += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
    co_await out(pi::untagged_data(line));
    // LIST-STATUS: a STATUS response for each selectable mailbox listed [RFC 5819 §2].
    if (args.return_status && e.info != nullptr) {
      auto box_task = account_->open_id(e.info->id);
      auto box = co_await std::move(box_task);
      if (!box) continue;
      auto st = co_await (*box)->status();
      if (!st) continue;
      co_await out(pi::untagged_data("STATUS " + wire_name(e.name) + " (" +
                                     format_status_items(*args.return_status, *st, append_limit()) + ")"));
    }
  }
  co_return pi::tagged(tag, Status::kOk, std::string(verb) + " completed");
}

asio::awaitable<std::string> Session::cmd_status(const std::string& tag, const pi::StatusCmd& args) {
  auto name = mailbox_name(args.mailbox);
  if (!name) co_return pi::store_failure(tag, name.error());
  auto box_task = account_->open(*name);
  auto box = co_await std::move(box_task);
  if (!box) co_return pi::store_failure(tag, box.error());
  auto st = co_await (*box)->status();
  if (!st) co_return pi::store_failure(tag, st.error());
  for (auto item : args.items) {
    if (item == pi::StatusItem::kHighestModSeq) co_await enable_condstore();  // [RFC 7162 §3.1]
  }
  co_await out(pi::untagged_data("STATUS " + wire_name(*name) + " (" +
                                 format_status_items(args.items, *st, append_limit()) + ")"));
  co_return pi::tagged(tag, Status::kOk, "STATUS completed");
}

}  // namespace posthorn::server::imap
