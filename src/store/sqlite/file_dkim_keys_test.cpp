// FileDkimKeys: the shared behavioural suite (tests/harness/dkim_keys_contract.hpp) on the embedded
// backend, and what only it has: the <data_dir>/dkim/<domain>/<selector>.pem layout with its modes,
// keys an operator put there by hand, files that are not keys ignored, an unreadable key an error.
#include "store/sqlite/file_dkim_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/harness/dkim_keys_contract.hpp"

namespace posthorn::store::sqlite {
namespace {

namespace fs = std::filesystem;

class FileDkimKeysBackend final : public msgauth::contract::DkimKeysBackend {
 public:
  explicit FileDkimKeysBackend(posthorn::testing::BackendContext& context) : dir_(context.dir), pool_(context.pool) {}
  Result<std::unique_ptr<msgauth::DkimKeyStore>> open() override {
    return std::unique_ptr<msgauth::DkimKeyStore>(FileDkimKeys::open(dir_, pool_));
  }

 private:
  fs::path dir_;
  BlockingPool& pool_;
};

}  // namespace

using msgauth::contract::DkimKeysContract;
INSTANTIATE_TEST_SUITE_P(File, DkimKeysContract,
                         (posthorn::testing::backend_values<msgauth::contract::DkimKeysBackend, FileDkimKeysBackend>("file")),
                         posthorn::testing::backend_name<msgauth::contract::DkimKeysParam>);

namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST(FileDkimKeysTest, LayoutModesAndKeysPutThereByHand) {
  posthorn::testing::TempDir dir("posthorn_dkim_files");
  boost::asio::io_context io;  // outlives the pool (its threads may drop completions bound to it)
  BlockingPool pool(1);
  auto keys = FileDkimKeys::open(dir.path(), pool);
  const std::string pem = msgauth::generate_dkim_key(msgauth::DkimAlgorithm::kEd25519Sha256).value();
  ASSERT_TRUE(posthorn::testing::drive_each(io, keys->add({"example.org", "s1-ed25519", pem})));
  const fs::path root = dir.path() / "dkim";
  EXPECT_EQ(mode_of(root), 0700u);
  EXPECT_EQ(mode_of(root / "example.org"), 0700u);
  EXPECT_EQ(mode_of(root / "example.org" / "s1-ed25519.pem"), 0600u);

  std::ofstream(root / "example.org" / "hand.pem") << pem;  // an operator's own key
  std::ofstream(root / "example.org" / "README") << "not a key";
  std::ofstream(root / "stray.pem") << pem;  // not in a domain folder
  auto listed = posthorn::testing::drive_each(io, keys->list());
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].selector, "hand");
  EXPECT_EQ((*listed)[1].selector, "s1-ed25519");

  std::ofstream(root / "example.org" / "broken.pem") << "garbage";
  listed = posthorn::testing::drive_each(io, keys->list());
  ASSERT_TRUE(listed);
  auto signer = msgauth::signer_from(*listed);
  ASSERT_FALSE(signer);
  EXPECT_EQ(signer.error().message, "DKIM key example.org/broken: not a PEM private key");

  if (::geteuid() != 0) {  // root reads anything
    ::chmod((root / "example.org" / "broken.pem").c_str(), 0);
    listed = posthorn::testing::drive_each(io, keys->list());
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code, Errc::kUnavailable);
  }
}

}  // namespace
}  // namespace posthorn::store::sqlite
