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

void TableResolver::fail(std::string name, Status status) {
  std::lock_guard lock(mutex_);
  failures_[norm(name)] = status;
}

std::vector<std::string> TableResolver::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

Status TableResolver::lookup_status(const std::string& name, int type) const {
  if (auto f = failures_.find(name); f != failures_.end()) return f->second;
  const bool has_mx = mx_.contains(name);
  bool has_a = false;
  bool has_aaaa = false;
  if (auto it = addresses_.find(name); it != addresses_.end()) {
    for (const auto& ip : it->second) (ip.is_v4() ? has_a : has_aaaa) = true;
  }
  const bool has_type = type == 0 ? has_mx : type == 4 ? has_a : has_aaaa;
  if (has_type) return Status::kOk;
  return (has_mx || has_a || has_aaaa) ? Status::kNoData : Status::kNxDomain;
}

boost::asio::awaitable<MxAnswer> TableResolver::mx(std::string name) {
  MxAnswer answer;
  {
    std::lock_guard lock(mutex_);
    const std::string key = norm(name);
    log_.push_back("MX " + key);
    answer.status = lookup_status(key, 0);
    answer.why = std::string(status_name(answer.status));
    if (answer.status == Status::kOk) answer.records = mx_.at(key);
  }
  finish_mx(answer);
  co_return answer;
}

AddressAnswer TableResolver::addresses(std::string name, bool v6) {
  AddressAnswer answer;
  std::lock_guard lock(mutex_);
  const std::string key = norm(name);
  log_.push_back((v6 ? "AAAA " : "A ") + key);
  answer.status = lookup_status(key, v6 ? 6 : 4);
  answer.why = std::string(status_name(answer.status));
  if (answer.status == Status::kOk) {
    for (const auto& ip : addresses_.at(key)) {
      if (ip.is_v6() == v6) answer.addresses.push_back(ip);
    }
  }
  return answer;
}

boost::asio::awaitable<AddressAnswer> TableResolver::a(std::string name) { co_return addresses(std::move(name), false); }

boost::asio::awaitable<AddressAnswer> TableResolver::aaaa(std::string name) {
  co_return addresses(std::move(name), true);
}

}  // namespace posthorn::dns
