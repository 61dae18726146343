"""``aks-netmig wizard``: a guided migration — pick a cluster and a migration, see preflight and the predicted
connectivity changes, choose options, review and save the plan, then run it now, schedule it in Prefect, or print
the runbook commands.

Contract:
- Every question has a flag (``wizard_prompts.Questions`` names it); given the flags the wizard asks nothing, and
  without a terminal it never prompts (a missing answer without a default is exit 2 naming the flag). It ends by
  printing the non-interactive commands that do the same (``aks-netmig plan ...`` + apply / prefect / runbook).
- The plan is the one ``aks-netmig plan`` writes with the printed flags (``netmig.commands.preflight``), written
  atomically, and only once every question was answered; Ctrl-C before that leaves nothing behind: exit 130, one line.
- Nothing here changes the cluster except "run now", which is ``aks-netmig apply`` itself.
- Subscriptions are listed through ARM (``AksGateway.list_subscriptions``, honouring --arm-endpoint/--ca-bundle;
  with --sandbox, the sandbox's ARM) before any cluster: without --subscription the choices are the ones ARM lists,
  then those known locally (AZURE_SUBSCRIPTION_ID, az CLI profile) that ARM did not list, each labelled; when the
  listing fails (e.g. no credential) one line says so and the local ones (or a typed id) are offered as before.
- A migration applies when the cluster has its template's source profile and is not already at its target; a
  cleanup template (check ``calico-leftovers``: calico-crd-cleanup) applies when the network policy is none and
  Calico/Tigera leftovers are there, read through the Kubernetes API (``calico.leftover_markers``: CRDs of
  crd.projectcalico.org / operator.tigera.io, the v3.projectcalico.org APIService).

Phases (one module each): ``cluster`` (1), ``migration`` (2, 3), ``preflight`` (4), ``when`` (5), ``save`` (6),
``run`` (the phases in order, then the action); ``answers`` holds the answers and the command lines they stand for;
``command`` is the click command.
"""

from __future__ import annotations

from netmig.cli.wizard.command import wizard

__all__ = ["wizard"]
