/* pcrgate policy: the commands about signed PCR policies and the update key (tools/policy_sign.c). */
#ifndef PCRGATE_TOOLS_POLICY_SIGN_H
#define PCRGATE_TOOLS_POLICY_SIGN_H

/* pcrgate policy sign: sign the approved PCR policy of a release. */
int cmd_policy_sign(int argc, char **argv);
/* pcrgate policy auth-digest: the update key's expected authPolicy for a vendor policy key. */
int cmd_policy_auth_digest(int argc, char **argv);
/* pcrgate policy verify-certify: check an agent's certification of its update key. */
int cmd_policy_verify_certify(int argc, char **argv);

#endif
