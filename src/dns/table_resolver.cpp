// TableResolver implementation. Names are normalised (lower case, no final dot) on the way in.
#include "dns/table_resolver.hpp"

#include "base/ascii.hpp"

namespace posthorn::dns {

namespace {

std::string norm(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return ascii::lower(name);
}

}  // namespace

void TableResolver::add_mx(std::string name, uint16_t preference, std::string host) {
  std::lock_guard lock(mutex_);
  mx_[norm(name)].push_back(Mx{preference, norm(host)});
}

void TableResolver::add_null_mx(std::string name) {
  std::lock_guard lock(mutex_);
  mx_[norm(name)].push_back(Mx{0, ""});
}

void TableResolver::add_address(std::string name, const std::string& ip) {
  std::lock_guard lock(mutex_);
  addresses_[norm(name)].push_back(boost::asio::ip::make_address(ip));
}

void TableResolver::add_txt(std::string name, std::string text) {
  std::lock_guard lock(mutex_);
  txt_[norm(name)].push_back(std::move(text));
}

void TableResolver::add_ptr(const std::string& ip, std::string host) {
  std::lock_guard lock(mutex_);
  ptr_[reverse_name(boost::asio::ip::make_address(ip))].push_back(norm(host));
}

void TableResolver::add_tlsa(std::string name, Tlsa record) {
  std::lock_guard lock(mutex_);
  tlsa_[norm(name)].push_back(std::move(record));
}

void TableResolver::mark_secure(std::string name) {
  std::lock_guard lock(mutex_);
  secure_.insert(norm(name));
}

void TableResolver::fail(std::string name, Status status) {
  std::lock_guard lock(mutex_);
  failures_[norm(name)] = status;
}

std::vector<std::string> TableResolver::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

Status TableResolver::lookup_status(const std::string& name, Type type) const {
  if (auto f = failures_.find(name); f != failures_.end()) return f->second;
  bool has_a = false;
  bool has_aaaa = false;
  if (auto it = addresses_.find(name); it != addresses_.end()) {
    for (const auto& ip : it->second) (ip.is_v4() ? has_a : has_aaaa) = true;
  }
  const bool has[] = {mx_.contains(name), has_a, has_aaaa, txt_.contains(name), ptr_.contains(name),
                      tlsa_.contains(name)};
  if (has[size_t(type)]) return Status::kOk;
  for (bool h : has) {
    if (h) return Status::kNoData;
  }
  return Status::kNxDomain;
}

template <class Answer, class Table, class Fill>
Answer TableResolver::answer(std::string_view log_type, std::string name, Type type, const Table& table, Fill fill) {
  Answer out;
  std::lock_guard lock(mutex_);
  const std::string key = norm(name);
  log_.push_back(std::string(log_type) + " " + key);
  out.status = lookup_status(key, type);
  out.why = std::string(status_name(out.status));
  out.secure = secure_.contains(key);
  if (out.status == Status::kOk) fill(table.at(key), out);
  return out;
}

boost::asio::awaitable<MxAnswer> TableResolver::mx(std::string name) {
  auto out = answer<MxAnswer>("MX", std::move(name), Type::kMx, mx_,
                              [](const std::vector<Mx>& rows, MxAnswer& a) { a.records = rows; });
  finish_mx(out);
  co_return out;
}

AddressAnswer TableResolver::addresses(std::string name, bool v6) {
  return answer<AddressAnswer>(v6 ? "AAAA" : "A", std::move(name), v6 ? Type::kAaaa : Type::kA, addresses_,
                               [v6](const std::vector<boost::asio::ip::address>& rows, AddressAnswer& a) {
                                 for (const auto& ip : rows) {
                                   if (ip.is_v6() == v6) a.addresses.push_back(ip);
                                 }
                               });
}

boost::asio::awaitable<TxtAnswer> TableResolver::txt(std::string name) {
  co_return answer<TxtAnswer>("TXT", std::move(name), Type::kTxt, txt_,
                              [](const std::vector<std::string>& rows, TxtAnswer& a) { a.records = rows; });
}

boost::asio::awaitable<NameAnswer> TableResolver::ptr(boost::asio::ip::address ip) {
  co_return answer<NameAnswer>("PTR", reverse_name(ip), Type::kPtr, ptr_,
                               [](const std::vector<std::string>& rows, NameAnswer& a) { a.names = rows; });
}

boost::asio::awaitable<TlsaAnswer> TableResolver::tlsa(std::string name) {
  co_return answer<TlsaAnswer>("TLSA", std::move(name), Type::kTlsa, tlsa_,
                               [](const std::vector<Tlsa>& rows, TlsaAnswer& a) { a.records = rows; });
}

boost::asio::awaitable<AddressAnswer> TableResolver::a(std::string name) { co_return addresses(std::move(name), false); }

boost::asio::awaitable<AddressAnswer> TableResolver::aaaa(std::string name) {
  co_return addresses(std::move(name), true);
}

}  // namespace posthorn::dns
