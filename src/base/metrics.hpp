// Process-wide counters and gauges, rendered in Prometheus text format for the admin /metrics page.
// Lock-free atomics; every method is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace posthorn {

enum class Proto : uint8_t { kSmtp, kSubmission, kLmtp, kImap, kPop3, kAdmin, kCount };
std::string_view proto_name(Proto p);

class Metrics {
 public:
  static Metrics& global();

  void connection_opened(Proto p) { at(conn_total_, p)++; at(conn_active_, p)++; }
  void connection_closed(Proto p) { at(conn_active_, p)--; }
  void connection_rejected(Proto p) { at(conn_rejected_, p)++; }
  void auth_succeeded(Proto p) { at(auth_ok_, p)++; }
  void auth_failed(Proto p) { at(auth_fail_, p)++; }
  void tls_handshake(Proto p, bool ok) { at(ok ? tls_ok_ : tls_fail_, p)++; }
  void credential_cache(bool hit) { (hit ? cache_hits_ : cache_misses_)++; }
  // The outbound queue runner: one scan of the due entries; an entry's delivery starting or ending.
  void queue_scanned() { queue_scans_++; }
  void queue_delivery(bool started) { queue_deliveries_ += started ? 1 : -1; }
  // One blob garbage collection of the mail store (at start-up or while serving) and what it freed.
  void blob_gc(uint64_t blobs, uint64_t bytes) {
    gc_runs_++;
    gc_blobs_ += blobs;
    gc_bytes_ += bytes;
  }

  // The shared database (the PostgreSQL backend): a connection opened or failing to open, and a
  // statement lost with its connection (the database went away or timed out).
  void db_connect(bool ok) { (ok ? db_connects_ : db_connect_failures_)++; }
  void db_connection_lost() { db_lost_++; }

  uint64_t auth_successes(Proto p) const { return at(auth_ok_, p).load(); }
  uint64_t auth_failures(Proto p) const { return at(auth_fail_, p).load(); }
  int64_t active_connections(Proto p) const { return at(conn_active_, p).load(); }

  std::string render_prometheus() const;

 private:
  template <class T>
  using PerProto = std::array<std::atomic<T>, size_t(Proto::kCount)>;
  template <class T>
  static std::atomic<T>& at(PerProto<T>& a, Proto p) { return a[size_t(p)]; }
  template <class T>
  static const std::atomic<T>& at(const PerProto<T>& a, Proto p) { return a[size_t(p)]; }

  PerProto<uint64_t> conn_total_{};
  PerProto<int64_t> conn_active_{};
  PerProto<uint64_t> conn_rejected_{};
  PerProto<uint64_t> auth_ok_{};
  PerProto<uint64_t> auth_fail_{};
  PerProto<uint64_t> tls_ok_{};
  PerProto<uint64_t> tls_fail_{};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> cache_misses_{0};
  std::atomic<uint64_t> queue_scans_{0};
  std::atomic<int64_t> queue_deliveries_{0};
  std::atomic<uint64_t> gc_runs_{0};
  std::atomic<uint64_t> gc_blobs_{0};
  std::atomic<uint64_t> gc_bytes_{0};
  std::atomic<uint64_t> db_connects_{0};
  std::atomic<uint64_t> db_connect_failures_{0};
  std::atomic<uint64_t> db_lost_{0};
};

}  // namespace posthorn
