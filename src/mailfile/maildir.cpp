// Maildir / Maildir++ reading and writing (see maildir.hpp). Plain POSIX file calls: the callers
// (the import/export commands) are command-line tools that run one step at a time.
#include "mailfile/maildir.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <system_error>

#include "base/ascii.hpp"

namespace posthorn::mailfile {

namespace fs = std::filesystem;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  const char l = ascii::to_lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

// The position of the info part (":2," or ";2,"), or npos.
std::size_t info_pos(std::string_view file_name) {
  for (std::size_t i = 0; i + 2 < file_name.size(); ++i) {
    if ((file_name[i] == ':' || file_name[i] == ';') && file_name[i + 1] == '2' && file_name[i + 2] == ',') {
      return i;
    }
  }
  return std::string_view::npos;
}

struct FlagLetter {
  char letter;
  store::SystemFlag flag;
};
// ASCII order, as the maildir specification asks for in written names.
constexpr FlagLetter kFlagLetters[] = {
    {'D', store::kDraft}, {'F', store::kFlagged}, {'R', store::kAnswered}, {'S', store::kSeen}, {'T', store::kDeleted},
};

Error io_error(std::string_view what, const fs::path& path, int err) {
  return make_error(Errc::kUnavailable, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_maildir(const fs::path& p) { return is_dir(p / "cur") || is_dir(p / "new"); }

std::string decode_level(std::string_view level) {
  std::string out;
  for (std::size_t i = 0; i < level.size(); ++i) {
    if (level[i] == '~' && i + 2 < level.size()) {
      const int hi = hex_value(level[i + 1]);
      const int lo = hex_value(level[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += level[i];
  }
  return out;
}

// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half.
Result<void> write_file_atomically(const fs::path& path, std::string_view bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return io_error("cannot write", tmp, errno);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return make_error(Errc::kUnavailable, "cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

// Folders of the layout=fs variant below `dir` (not starting with '.', not cur/new/tmp), recursively.
void collect_fs_layout(const fs::path& dir, const std::string& prefix, MaildirTree& tree, int depth) {
  if (depth > static_cast<int>(store::kMaxNameDepth)) return;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string leaf = it->path().filename().string();
    if (leaf.empty() || leaf[0] == '.' || leaf == "cur" || leaf == "new" || leaf == "tmp") continue;
    if (!is_dir(it->path())) continue;
    const std::string name = prefix.empty() ? leaf : prefix + "/" + leaf;
    if (is_maildir(it->path())) {
      auto canonical = store::canonical_mailbox_name(name);
      if (canonical) {
        tree.folders.push_back({*canonical, it->path()});
      } else {
        tree.problems.push_back({it->path(), canonical.error().message});
      }
    }
    collect_fs_layout(it->path(), name, tree, depth + 1);
  }
}

}  // namespace

// ---- Keywords ----

MaildirKeywords MaildirKeywords::parse(std::string_view text) {
  MaildirKeywords k;
  for (auto line : ascii::split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t i = 0;
    unsigned n = 0;
    while (i < line.size() && is_digit(line[i]) && n < 100) n = n * 10 + static_cast<unsigned>(line[i++] - '0');
    if (i == 0 || i >= line.size() || line[i] != ' ' || n >= kMaxMaildirKeywords) continue;
    const std::string_view name = line.substr(i + 1);
    if (name.empty()) continue;
    k.names_[n] = std::string(name);
  }
  return k;
}

std::string MaildirKeywords::serialize() const {
  std::string out;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (!names_[i].empty()) out += std::to_string(i) + " " + names_[i] + "\n";
  }
  return out;
}

const std::string* MaildirKeywords::keyword(char letter) const {
  if (letter < 'a' || letter > 'z') return nullptr;
  const auto& name = names_[static_cast<std::size_t>(letter - 'a')];
  return name.empty() ? nullptr : &name;
}

std::optional<char> MaildirKeywords::letter(std::string_view keyword, bool assign) {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (!names_[i].empty() && ascii::iequals(names_[i], keyword)) return static_cast<char>('a' + i);
  }
  if (!assign) return std::nullopt;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i].empty()) {
      names_[i] = std::string(keyword);
      return static_cast<char>('a' + i);
    }
  }
  return std::nullopt;
}

bool MaildirKeywords::empty() const {
  return std::all_of(names_.begin(), names_.end(), [](const std::string& s) { return s.empty(); });
}

// ---- Flags ----

store::Flags parse_maildir_flags(std::string_view file_name, const MaildirKeywords& keywords, std::string* unknown) {
  store::Flags flags;
  const auto pos = info_pos(file_name);
  if (pos == std::string_view::npos) return flags;
  for (char c : file_name.substr(pos + 3)) {
    bool known = false;
    for (const auto& fl : kFlagLetters) {
      if (fl.letter == c) {
        flags.system |= fl.flag;
        known = true;
      }
    }
    if (!known) {
      if (const std::string* k = keywords.keyword(c); k != nullptr && store::check_keyword(*k)) {
        flags.keywords.push_back(*k);
        known = true;
      }
    }
    if (!known && unknown != nullptr && c != ',') *unknown += c;
  }
  flags.normalize();
  return flags;
}

std::string format_maildir_info(const store::Flags& flags, MaildirKeywords& keywords,
                                std::vector<std::string>* dropped) {
  std::string letters;
  for (const auto& fl : kFlagLetters) {
    if (flags.has(fl.flag)) letters += fl.letter;
  }
  std::string keyword_letters;
  for (const auto& k : flags.keywords) {
    if (auto l = keywords.letter(k, true)) {
      keyword_letters += *l;
    } else if (dropped != nullptr) {
      dropped->push_back(k);
    }
  }
  std::sort(keyword_letters.begin(), keyword_letters.end());
  return "2," + letters + keyword_letters;
}

std::string_view maildir_unique_part(std::string_view file_name) {
  const auto pos = info_pos(file_name);
  return pos == std::string_view::npos ? file_name : file_name.substr(0, pos);
}

bool natural_less(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t i0 = i, j0 = j;
      while (i0 < a.size() && a[i0] == '0') ++i0;
      while (j0 < b.size() && b[j0] == '0') ++j0;
      std::size_t i1 = i0, j1 = j0;
      while (i1 < a.size() && is_digit(a[i1])) ++i1;
      while (j1 < b.size() && is_digit(b[j1])) ++j1;
      if (i1 - i0 != j1 - j0) return i1 - i0 < j1 - j0;
      const auto cmp = a.substr(i0, i1 - i0).compare(b.substr(j0, j1 - j0));
      if (cmp != 0) return cmp < 0;
      i = i1;
      j = j1;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;  // equal by value ("01" vs "1"): any stable order
}

// ---- Folder names ----

std::optional<std::string> decode_maildirpp_folder(std::string_view dir_name) {
  if (dir_name.size() < 2 || dir_name[0] != '.' || dir_name == "..") return std::nullopt;
  std::string out;
  for (auto level : ascii::split(dir_name.substr(1), '.')) {
    if (level.empty()) return std::nullopt;
    const std::string decoded = decode_level(level);
    if (decoded.empty() || decoded == "." || decoded == ".." || decoded.find('/') != std::string::npos) {
      return std::nullopt;
    }
    if (!out.empty()) out += '/';
    out += decoded;
  }
  return out;
}

std::string encode_maildirpp_folder(std::string_view mailbox) {
  if (ascii::iequals(mailbox, "INBOX")) return "";
  std::string out;
  for (auto level : ascii::split(mailbox, store::kSeparator)) {
    out += '.';
    for (char c : level) {
      if (c == '.') {
        out += "~2e";
      } else if (c == '~') {
        out += "~7e";
      } else {
        out += c;
      }
    }
  }
  return out;
}

// ---- Subscriptions ----

std::vector<std::string> parse_subscriptions(std::string_view text) {
  std::vector<std::string> out;
  auto lines = ascii::split(text, '\n');
  bool v2 = !lines.empty() && (lines[0] == "V\t2" || lines[0] == "V\t2\r");
  for (std::size_t i = v2 ? 1 : 0; i < lines.size(); ++i) {
    auto line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::string name;
    for (char c : line) name += (c == (v2 ? '\t' : '.')) ? '/' : c;
    auto canonical = store::canonical_mailbox_name(name);
    if (canonical) out.push_back(*canonical);
  }
  return out;
}

std::string format_subscriptions(const std::vector<std::string>& names) {
  std::string out = "V\t2\n\n";
  for (const auto& n : names) {
    for (char c : n) out += c == store::kSeparator ? '\t' : c;
    out += '\n';
  }
  return out;
}

// ---- Reading ----

Result<MaildirTree> read_maildir_tree(const fs::path& root) {
  if (!is_dir(root)) return make_error(Errc::kNotFound, root.string() + " is not a directory");
  MaildirTree tree;
  tree.folders.push_back({"INBOX", root});  // even without cur/: INBOX always exists
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string leaf = it->path().filename().string();
    if (leaf.size() < 2 || leaf[0] != '.' || leaf == ".." || !is_dir(it->path()) || !is_maildir(it->path())) continue;
    auto name = decode_maildirpp_folder(leaf);
    if (!name) {
      tree.problems.push_back({it->path(), "not a Maildir++ folder name"});
      continue;
    }
    auto canonical = store::canonical_mailbox_name(*name);
    if (!canonical) {
      tree.problems.push_back({it->path(), canonical.error().message});
      continue;
    }
    if (*canonical == "INBOX") {
      tree.problems.push_back({it->path(), "a folder named INBOX besides the root; skipped"});
      continue;
    }
    tree.folders.push_back({*canonical, it->path()});
  }
  if (ec) return io_error("cannot list", root, ec.value());
  collect_fs_layout(root, "", tree, 1);
  // layout=fs may spell INBOX as a directory of its own; it is used when the root holds no mail.
  for (std::size_t i = 1; i < tree.folders.size();) {
    if (tree.folders[i].name == "INBOX") {
      if (!is_maildir(root)) tree.folders.front().path = tree.folders[i].path;
      tree.folders.erase(tree.folders.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  std::sort(tree.folders.begin() + 1, tree.folders.end(),
            [](const MaildirFolder& a, const MaildirFolder& b) { return a.name < b.name; });
  // Two spellings of one name (".A.B" and A/B/) would import into one mailbox: keep the first.
  for (std::size_t i = 1; i + 1 < tree.folders.size();) {
    if (tree.folders[i].name == tree.folders[i + 1].name) {
      tree.problems.push_back({tree.folders[i + 1].path, "a second folder named " + tree.folders[i].name});
      tree.folders.erase(tree.folders.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    } else {
      ++i;
    }
  }
  if (auto subs = read_file(root / "subscriptions", 16 * 1024 * 1024)) tree.subscriptions = parse_subscriptions(*subs);
  return tree;
}

Result<std::vector<MaildirMessage>> list_maildir_messages(const MaildirFolder& folder,
                                                          std::vector<MaildirProblem>& problems) {
  MaildirKeywords keywords;
  if (auto text = read_file(folder.path / "dovecot-keywords", 1024 * 1024)) keywords = MaildirKeywords::parse(*text);
  std::vector<MaildirMessage> out;
  for (const char* sub : {"new", "cur"}) {
    const fs::path dir = folder.path / sub;
    if (!is_dir(dir)) continue;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string leaf = it->path().filename().string();
      if (leaf.empty() || leaf[0] == '.') continue;
      struct stat st {};
      if (::stat(it->path().c_str(), &st) != 0) {
        problems.push_back({it->path(), std::strerror(errno)});
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      MaildirMessage m;
      m.path = it->path();
      m.internal_date = static_cast<int64_t>(st.st_mtime);
      m.flags = parse_maildir_flags(leaf, keywords, &m.unknown_flags);
      out.push_back(std::move(m));
    }
    if (ec) return io_error("cannot list", dir, ec.value());
  }
  std::sort(out.begin(), out.end(), [](const MaildirMessage& a, const MaildirMessage& b) {
    const std::string an = a.path.filename().string(), bn = b.path.filename().string();
    return natural_less(maildir_unique_part(an), maildir_unique_part(bn));
  });
  return out;
}

Result<std::string> read_file(const fs::path& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return err == ENOENT ? make_error(Errc::kNotFound, path.string() + " does not exist")
                         : io_error("cannot open", path, err);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("cannot stat", path, errno);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(Errc::kTooBig, "larger than " + std::to_string(max_bytes) + " bytes");
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path, errno);
    if (n == 0) break;  // shrank while reading
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

// ---- Writing ----

std::string crlf_to_lf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') continue;
    out += bytes[i];
  }
  return out;
}

MaildirWriter::MaildirWriter(fs::path root) : root_(std::move(root)) {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') std::strcpy(buf, "localhost");
  // The maildir specification: '/' and ':' in the host part are written as octal escapes.
  for (char c : std::string_view(buf)) {
    if (c == '/') {
      host_ += "\\057";
    } else if (c == ':') {
      host_ += "\\072";
    } else if (c == ',') {
      host_ += "\\054";  // ',' would start a Dovecot ",S=" field
    } else {
      host_ += c;
    }
  }
  pid_ = static_cast<long>(::getpid());
}

Result<MaildirWriter> MaildirWriter::create(const fs::path& root) {
  std::error_code ec;
  if (fs::exists(root, ec)) {
    if (!is_dir(root)) return make_error(Errc::kExists, root.string() + " exists and is not a directory");
    if (!fs::is_empty(root, ec)) {
      return make_error(Errc::kExists, root.string() + " is not empty; export into a new or empty directory");
    }
  } else {
    fs::create_directories(root, ec);
    if (ec) return make_error(Errc::kUnavailable, "cannot create " + root.string() + ": " + ec.message());
  }
  MaildirWriter w(root);
  if (auto r = w.folder("INBOX"); !r) return r.error();
  return w;
}

Result<fs::path> MaildirWriter::folder(std::string_view mailbox) {
  const std::string encoded = encode_maildirpp_folder(mailbox);
  const fs::path dir = encoded.empty() ? root_ : root_ / encoded;
  for (const char* sub : {"cur", "new", "tmp"}) {
    std::error_code ec;
    fs::create_directories(dir / sub, ec);
    if (ec) return make_error(Errc::kUnavailable, "cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  // Dovecot marks Maildir++ subfolders with an empty maildirfolder file.
  if (!encoded.empty() && !fs::exists(dir / "maildirfolder")) {
    std::ofstream touch(dir / "maildirfolder");
    if (!touch) return io_error("cannot create", dir / "maildirfolder", errno);
  }
  return dir;
}

Result<WriteOutcome> MaildirWriter::write(std::string_view mailbox, std::string_view message, const store::Flags& flags,
                                          int64_t internal_date) {
  auto dir = folder(mailbox);
  if (!dir) return dir.error();
  WriteOutcome outcome;
  auto& keywords = keywords_[dir->string()];
  const bool had_keywords = !keywords.empty();
  const std::string info = format_maildir_info(flags, keywords, &outcome.dropped_keywords);
  const std::string lf = crlf_to_lf(message);
  const std::string unique = std::to_string(static_cast<long long>(std::time(nullptr))) + "." + std::to_string(pid_) +
                             "_" + std::to_string(++counter_) + "." + host_;
  const std::string name = unique + ",S=" + std::to_string(lf.size()) + ":" + info;
  const fs::path tmp = *dir / "tmp" / unique;
  outcome.path = *dir / "cur" / name;
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create", tmp, errno);
    std::size_t done = 0;
    while (done < lf.size()) {
      const ssize_t n = ::write(fd, lf.data() + done, lf.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        ::close(fd);
        return io_error("cannot write", tmp, err);
      }
      done += static_cast<std::size_t>(n);
    }
    const struct timespec times[2] = {{static_cast<time_t>(internal_date), 0}, {static_cast<time_t>(internal_date), 0}};
    if (::futimens(fd, times) != 0 || ::close(fd) != 0) return io_error("cannot finish", tmp, errno);
  }
  if (::rename(tmp.c_str(), outcome.path.c_str()) != 0) return io_error("cannot rename", tmp, errno);
  if (!had_keywords && !keywords.empty()) {
    // Written as soon as a folder gets its first keyword; finish() rewrites it with the rest.
    if (auto r = write_file_atomically(*dir / "dovecot-keywords", keywords.serialize()); !r) return r.error();
  }
  return outcome;
}

Result<void> MaildirWriter::finish(const std::vector<std::string>& subscriptions) {
  for (const auto& [dir, keywords] : keywords_) {
    if (keywords.empty()) continue;
    if (auto r = write_file_atomically(fs::path(dir) / "dovecot-keywords", keywords.serialize()); !r) return r;
  }
  if (auto r = write_file_atomically(root_ / "subscriptions", format_subscriptions(subscriptions)); !r) return r;
  const int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", root_, errno);
  const int rc = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot sync", root_, err);
  return {};
}

}  // namespace posthorn::mailfile
