"""Connectivity verification: which workloads can reach which, observed with probe pods and predicted by the policy
engine, keyed by workload identity (never by pod IP, which changes in kubenet -> overlay migrations).

Contract: the modules here are pure (no I/O): ``identity`` (workload identity of a pod), ``outcomes`` (agnhost
results -> open/refused/timeout/error; the probe script/log format itself is ``netmig.model.probes``, shared with
the probe runner), ``selection`` (which probes cover every equivalence-class cell),
``snapshot`` (the recorded sample + the objects it was taken with, secrets removed), ``compare`` (before vs after,
expected vs observed, each change explained by the policy engine), ``report`` (matrix, JSON, JUnit, Markdown).
Talking to a cluster lives in ``netmig.kube.probes`` / ``netmig.kube.seed_demo`` (which import nothing of this
package: model < policy < kube < verify); ``netmig.verify.run`` glues them.
"""
