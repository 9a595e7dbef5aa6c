// Unit tests of the client's MAIL/RCPT commands: each parameter only when the server offers it.
#include <gtest/gtest.h>

#include "smtpc/protocol.hpp"

namespace posthorn::smtpc {
namespace {

TEST(Commands, MailAndRcptParametersOnlyWhenOffered) {
  MailParams p;
  p.sender = "alice@here.test";
  p.size = 1234;
  p.body = Body::k8BitMime;
  p.smtputf8 = true;
  p.ret = queue::Ret::kHeaders;
  p.envid = "id+1=2";
  Capabilities none;
  none.esmtp = true;
  EXPECT_EQ(mail_command(p, none), "MAIL FROM:<alice@here.test>\r\n");
  Capabilities all;
  all.esmtp = all.eightbitmime = all.smtputf8 = all.dsn = true;
  all.size = 0;
  EXPECT_EQ(mail_command(p, all),
            "MAIL FROM:<alice@here.test> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D2\r\n");
  MailParams bounce;
  EXPECT_EQ(mail_command(bounce, all), "MAIL FROM:<>\r\n");

  Recipient r;
  r.address = "bob@there.test";
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test>\r\n");
  r.notify.failure = r.notify.delay = true;
  r.orcpt = "rfc822;Bob+x@there.test";
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;Bob+2Bx@there.test\r\n");
  EXPECT_EQ(rcpt_command(r, none), "RCPT TO:<bob@there.test>\r\n");
  r.notify = queue::Notify{};
  r.notify.never = true;
  r.orcpt.clear();
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=NEVER\r\n");
  r.notify = queue::Notify{};
  r.notify.success = true;
  EXPECT_EQ(rcpt_command(r, all), "RCPT TO:<bob@there.test> NOTIFY=SUCCESS\r\n");
}

}  // namespace
}  // namespace posthorn::smtpc
