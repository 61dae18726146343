"""exec / attach / port-forward against the sandbox with the real clients (issue #15 item 1).

kubectl 1.32 (WebSocket ``v5.channel.k8s.io`` for exec/attach, SPDY/3.1 tunnelled in a WebSocket for
port-forward) and the Python ``kubernetes`` client (``v4.channel.k8s.io``). The seed article's demo is typed
literally into real pseudo-terminals: one "window" runs the client shell, another the other commands.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.stream import portforward, stream

from netmig_sandbox import scenarios
from tests.contract.terminal import Terminal
from tests.contract.test_kubectl import DEMO_POLICY, IMAGE  # the seed article's demo, as test_kubectl types it
from tests.polling import until

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

PROMPT = "bash-5.1# "
SHELL_PROMPT = "window$ "


@pytest.fixture
def demo_sandbox(request: pytest.FixtureRequest, sandbox_factory: Any) -> Any:
    """The article's cluster: Azure CNI with Azure NPM enforcing policies (scenario ``seed-demo``), at the
    Kubernetes version given as the fixture's parameter (default: the scenario's). A kubectl that dispatches on
    the server version (gcloud's) then runs its matching release: 1.32 for a 1.32 cluster."""
    sc = scenarios.load("seed-demo")
    version = getattr(request, "param", None)
    if version:
        sc["cluster"]["kubernetes_version"] = version
        for pool in sc["cluster"]["pools"]:
            pool["orchestratorVersion"] = version
    return sandbox_factory(sc, time_scale=0.01)


VERSIONS = pytest.mark.parametrize("demo_sandbox", ["1.31.2", "1.32.4"], indirect=True)


def _env(sandbox: Any, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "inputrc").write_text("set enable-bracketed-paste off\n")  # no escape codes around typed lines
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECTL_")}
    env.update({"KUBECONFIG": sandbox.info["kubeconfig"], "HOME": str(home), "KUBECACHEDIR": str(home / "cache"),
                "TERM": "xterm", "PS1": SHELL_PROMPT,
                "INPUTRC": str(home / "inputrc")})
    return env


def _kubectl(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)
    if ok:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc


def _window(env: dict[str, str], cwd: Path) -> Terminal:
    """A terminal window running an interactive bash (no rc files) with a recognisable prompt."""
    term = Terminal(["bash", "--norc", "--noprofile", "-i"], env, cwd=str(cwd))
    term.expect(SHELL_PROMPT)
    return term


def _run(window: Terminal, command: str) -> str:
    """Type ``command`` in a shell window; what it printed (without the echo of the command and the prompt)."""
    window.line(command)
    out = window.expect(SHELL_PROMPT)
    return out.split("\r\n", 1)[1][: -len(SHELL_PROMPT)] if "\r\n" in out else ""


def _in_client(shell: Terminal, command: str) -> str:
    """Type ``command`` in the client pod's shell; what it printed before the next prompt."""
    shell.line(command)
    echoed = shell.expect(command + "\r\n")
    assert echoed.endswith(command + "\r\n")
    return shell.expect(PROMPT)[: -len(PROMPT)]


@VERSIONS
def test_seed_article_demo_typed_literally(demo_sandbox: Any, tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    other = _window(env, tmp_path)
    client_window = _window(env, tmp_path)
    try:
        assert _run(other, "kubectl create namespace demo").strip() == "namespace/demo created"
        out = _run(other, 'kubectl run server -n demo --image=k8s.gcr.io/e2e-test-images/agnhost:2.33 '
                          '--labels="app=server" --port=80 --command -- /agnhost serve-hostname --tcp '
                          '--http=false --port "80"')
        assert out.strip() == "pod/server created"

        client_window.line("kubectl run -it client -n demo --image=k8s.gcr.io/e2e-test-images/agnhost:2.33 "
                           "--command -- bash")
        shown = client_window.expect(PROMPT)
        assert "If you don't see a command prompt, try pressing enter." in shown

        until(lambda: "Running" in _kubectl(env, "get", "pod", "server", "-n", "demo").stdout, 60,
              "the server pod Running")
        wide = _run(other, "kubectl get pod --output=wide -n demo")
        rows = {ln.split()[0]: ln.split() for ln in wide.splitlines()[1:] if ln.strip()}
        assert wide.split()[:9] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE"]
        assert set(rows) == {"client", "server"} and rows["server"][2] == "Running"
        server_ip = rows["server"][5]
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", server_ip)

        connect = f"/agnhost connect {server_ip}:80 --timeout=3s --protocol=tcp"
        assert _in_client(client_window, connect) == ""  # no policy yet: connected, no output

        (tmp_path / "demo-policy.yaml").write_text(DEMO_POLICY)
        # the article's text reads "kubectl apply â€“f" (an en dash mangled by its encoding); typed as intended:
        assert _run(other, "kubectl apply -f demo-policy.yaml").strip() == (
            "networkpolicy.networking.k8s.io/demo-policy created")
        assert _in_client(client_window, connect) == "TIMEOUT\r\n"  # blocked: the client is not labelled

        assert _run(other, "kubectl label pod client -n demo app=client").strip() == "pod/client labeled"
        assert _in_client(client_window, connect) == ""  # labelled: allowed again

        client_window.line("exit")
        ended = client_window.expect(SHELL_PROMPT)
        assert "Session ended, resume using 'kubectl attach client -c client -i -t' command" in ended
        pod = json.loads(_kubectl(env, "get", "pod", "client", "-n", "demo", "-o", "json").stdout)
        status = pod["status"]["containerStatuses"][0]
        assert status["restartCount"] == 1 and status["lastState"]["terminated"]["exitCode"] == 0  # bash exited

        assert "namespace \"demo\" deleted" in _run(other, "kubectl delete namespace demo")
    finally:
        other.close()
        client_window.close()


def _demo_pods(env: dict[str, str]) -> str:
    _kubectl(env, "create", "namespace", "demo")
    _kubectl(env, "run", "server", "-n", "demo", f"--image={IMAGE}", "--labels=app=server", "--port=80",
             "--command", "--", "/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", "80")
    _kubectl(env, "run", "client", "-n", "demo", f"--image={IMAGE}", "--command", "--", "sleep", "infinity")
    until(lambda: _kubectl(env, "get", "pods", "-n", "demo", "-o",
                           "jsonpath={.items[*].status.phase}").stdout == "Running Running", 60, "demo pods Running")
    return _kubectl(env, "get", "pod", "server", "-n", "demo", "-o", "jsonpath={.status.podIP}").stdout


def test_kubectl_exec_agnhost_connect_follows_the_policy(demo_sandbox: Any, tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    ip = _demo_pods(env)
    connect = ["exec", "client", "-n", "demo", "--", "/agnhost", "connect", f"{ip}:80", "--timeout=3s",
               "--protocol=tcp"]
    ok = _kubectl(env, *connect)
    assert (ok.stdout, ok.stderr) == ("", "")
    policy = tmp_path / "p.yaml"
    policy.write_text(DEMO_POLICY)
    _kubectl(env, "apply", "-f", str(policy))
    blocked = _kubectl(env, *connect, ok=False)
    assert blocked.returncode == 1
    assert blocked.stdout == "" and blocked.stderr == "TIMEOUT\ncommand terminated with exit code 1\n"
    refused = _kubectl(env, "exec", "server", "-n", "demo", "--", "/agnhost", "connect", f"{ip}:81",
                       "--timeout=3s", ok=False)
    assert refused.returncode == 1 and refused.stderr.startswith("REFUSED\n")  # from itself: no policy applies
    script = _kubectl(env, "exec", "client", "-n", "demo", "--", "sh", "-c", "hostname; false || echo $?; exit 7",
                      ok=False)
    assert (script.returncode, script.stdout) == (7, "client\n1\n")
    missing = _kubectl(env, "exec", "client", "-n", "demo", "--", "curl", "-s", "x", ok=False)
    assert missing.returncode == 127 and "executable file not found in $PATH" in missing.stderr
    piped = subprocess.run(["kubectl", "exec", "-i", "client", "-n", "demo", "--", "sh"], input="hostname\necho $?\n",
                           capture_output=True, text=True, env=env, timeout=60)
    assert (piped.returncode, piped.stdout) == (0, "client\n0\n")


def test_kubectl_exec_refusals_carry_the_api_server_messages(demo_sandbox: Any, tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    _demo_pods(env)
    nope = _kubectl(env, "exec", "ghost", "-n", "demo", "--", "true", ok=False)
    assert nope.returncode == 1 and 'pods "ghost" not found' in nope.stderr
    wrong = _kubectl(env, "exec", "client", "-n", "demo", "-c", "other", "--", "true", ok=False)
    assert wrong.returncode == 1 and "container other is not valid for pod client" in wrong.stderr
    spdy_env = {**env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
    old = _kubectl(spdy_env, "exec", "client", "-n", "demo", "--", "true", ok=False)
    assert old.returncode == 1 and "SPDY/3.1 upgrades are not supported" in old.stderr


def test_kubectl_attach_to_an_interactive_pod(demo_sandbox: Any, tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    _kubectl(env, "create", "namespace", "demo")
    _kubectl(env, "run", "shell", "-n", "demo", f"--image={IMAGE}", "--stdin", "--tty", "--attach=false",
             "--command", "--", "bash")
    until(lambda: _kubectl(env, "get", "pod", "shell", "-n", "demo", "-o",
                           "jsonpath={.status.phase}").stdout == "Running", 60, "the shell pod Running")
    window = _window(env, tmp_path)
    try:
        window.line("kubectl attach -it shell -n demo")
        window.expect(PROMPT)
        assert _in_client(window, "hostname") == "shell\r\n"
        assert _in_client(window, "nosuchcommand") == "bash: nosuchcommand: command not found\r\n"
        assert _in_client(window, "echo $?") == "127\r\n"
        # the main process's terminal output is the container's log, as on a node (text mode: \r\n read as \n)
        assert "bash-5.1# hostname\nshell\n" in _kubectl(env, "logs", "shell", "-n", "demo").stdout
        window.line("exit")
        assert "Session ended" in window.expect(SHELL_PROMPT)
    finally:
        window.close()

    # a throw-away pod: the shell's exit code becomes kubectl's (read from the pod), then the pod is deleted
    once = Terminal(["kubectl", "run", "-it", "--rm", "once", "-n", "demo", f"--image={IMAGE}", "--restart=Never",
                     "--", "sh"], env, cwd=str(tmp_path))
    try:
        once.expect("/ # ")
        once.line("exit 4")
        assert once.wait(60) == 4
        assert 'pod "once" deleted' in once.buf.decode()
    finally:
        once.close()
    assert _kubectl(env, "get", "pod", "once", "-n", "demo", ok=False).returncode == 1


@VERSIONS
def test_kubectl_port_forward_to_an_agnhost_pod(demo_sandbox: Any, tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    _kubectl(env, "run", "agnhost-pod", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--port=80",
             "--command", "--", "/agnhost", "serve-hostname", "--port", "80")
    until(lambda: _kubectl(env, "get", "pod", "agnhost-pod", "-o", "jsonpath={.status.phase}").stdout == "Running",
          60, "agnhost-pod Running")
    # ":80" lets kubectl pick a free local port (parallel-safe) where the article-style example says 8080:80
    proc = subprocess.Popen(["kubectl", "port-forward", "pod/agnhost-pod", ":80", ":81"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ports = []
        while len(ports) < 2:
            line = proc.stdout.readline()
            assert line, f"kubectl port-forward ended: {proc.stderr.read() if proc.stderr else ''}"
            m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            if m:
                ports.append(int(m.group(1)))
        for _ in range(2):  # two connections over one tunnel
            with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/", timeout=30) as resp:
                assert resp.status == 200 and resp.read() == b"agnhost-pod"
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{ports[1]}/", timeout=30)  # nothing listens on 81
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "connect: connection refused" in err


@pytest.fixture
def core(demo_sandbox: Any) -> client.CoreV1Api:
    cfg = client.Configuration()
    config.load_kube_config(config_file=demo_sandbox.info["kubeconfig"], client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def test_python_client_stream_exec_and_portforward(demo_sandbox: Any, core: client.CoreV1Api,
                                                   tmp_path: Path) -> None:
    env = _env(demo_sandbox, tmp_path / "home")
    ip = _demo_pods(env)
    command = ["/agnhost", "connect", f"{ip}:80", "--timeout=3s", "--protocol=tcp"]
    resp = stream(core.connect_get_namespaced_pod_exec, "client", "demo", command=command, stderr=True,
                  stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 0 and resp.read_stderr() == ""
    policy = tmp_path / "p.yaml"
    policy.write_text(DEMO_POLICY)
    _kubectl(env, "apply", "-f", str(policy))
    resp = stream(core.connect_get_namespaced_pod_exec, "client", "demo", command=command, stderr=True,
                  stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=30)
    assert resp.returncode == 1
    out = stream(core.connect_get_namespaced_pod_exec, "client", "demo", command=["hostname"], stderr=True,
                 stdin=False, stdout=True, tty=False)
    assert out == "client\n"
    # interactive: stdin written by the client, read by the simulated shell
    shell = stream(core.connect_get_namespaced_pod_exec, "client", "demo", command=["sh"], stderr=True, stdin=True,
                   stdout=True, tty=False, _preload_content=False)
    shell.write_stdin("echo hello\nexit 4\n")
    shell.run_forever(timeout=30)
    assert shell.read_stdout() == "hello\n" and shell.returncode == 4

    _kubectl(env, "run", "web", "-n", "demo", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--command",
             "--", "/agnhost", "netexec", "--http-port=8080")
    until(lambda: _kubectl(env, "get", "pod", "web", "-n", "demo", "-o",
                           "jsonpath={.status.phase}").stdout == "Running", 60, "web Running")
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", "demo", ports="8080")
    sock = pf.socket(8080)
    sock.setblocking(True)
    sock.settimeout(30)
    sock.sendall(b"GET /hostname HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if data.endswith(b"web"):
            break
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nweb")
