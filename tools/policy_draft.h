/* pcrgate policy: reference policies from the command line (tools/policy_draft.c). */
#ifndef PCRGATE_TOOLS_POLICY_DRAFT_H
#define PCRGATE_TOOLS_POLICY_DRAFT_H

/* pcrgate policy from-eventlog: draft a reference policy from a known-good event log. */
int cmd_policy_from_eventlog(int argc, char **argv);
/* pcrgate policy check: evaluate event logs against a reference policy, replaying them. */
int cmd_policy_check(int argc, char **argv);

#endif
