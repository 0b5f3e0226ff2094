"""The local data path's cost: requests through the local load balancer's URL against the same
requests on the task's own port, with the same wrk run shape, alternately (``--rounds``).

The project's serving image runs as an ECS service's task on the local runtime (an emulator of
its own, on free ports, removed afterwards); wrk sends single-row ``POST /predict``.

    python bench/url_vs_task.py --seconds 10 --rounds 3

The last line is ``url_vs_task=`` (req/s through the URL over req/s on the task's own port, the
container's bridge address); ``via_published_port=`` is the same run on the task's published
host port, which crosses docker-proxy when the engine runs it. Results land in
bench/results/url_vs_task.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import docker
from support import bench_model, free_port, machine, run_id, save_results, wait_http, wrk

from mlinfra import emulator
from mlinfra.image import build_image
from mlinfra.local_runtime import converge, stop_all

GUIDE_BODY = json.dumps({"features": [3, 2, 1500, 2020]})
PORT = 8080


def _service(endpoint: str, name: str, image: str) -> None:
    """Cluster, one container instance, target group, service of one task of ``image``."""
    session = emulator.boto3_session(endpoint)
    ecs, ec2, elbv2 = session.client("ecs"), session.client("ec2"), session.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]
    ecs.create_cluster(clusterName=name)
    ecs.register_container_instance(
        cluster=name, instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]})
    )
    group = elbv2.create_target_group(
        Name=name, Protocol="HTTP", Port=PORT, VpcId=vpc, TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=group,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}],
    )
    check = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/ready', timeout=2)"
    )
    definition = ecs.register_task_definition(
        family=name,
        networkMode="bridge",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[
            {
                "name": "app",
                "image": image,
                "essential": True,
                "memory": 1024,
                "portMappings": [{"containerPort": PORT, "hostPort": 0, "protocol": "tcp"}],
                "environment": [
                    {"name": "PORT", "value": str(PORT)},
                    {"name": "GUNICORN_CMD_ARGS", "value": f"--bind 0.0.0.0:{PORT}"},
                ],
                "linuxParameters": {"tmpfs": [{"containerPath": "/tmp", "size": 64}]},
                "healthCheck": {
                    "command": ["CMD", "python3", "-c", check],
                    "interval": 5,
                    "timeout": 3,
                    "retries": 3,
                    "startPeriod": 5,
                },
            }
        ],
    )["taskDefinition"]
    ecs.create_service(
        cluster=name,
        serviceName=name,
        taskDefinition=f"{definition['family']}:{definition['revision']}",
        desiredCount=1,
        launchType="EC2",
        loadBalancers=[{"targetGroupArn": group, "containerName": "app", "containerPort": PORT}],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    rid = run_id()
    name = f"mlinfra-bench-{rid}"
    project = build_image(bench_model(), f"{name}/serving")
    state = Path(tempfile.mkdtemp(prefix="mlinfra-bench-emulator-"))
    running = emulator.start(port=free_port(), state_dir=state)
    try:
        _service(running.endpoint, name, project.reference)
        report = converge(
            running.endpoint,
            env=name,
            cluster=name,
            service=name,
            proxy_port=free_port(),
            tls_port=free_port(),
            agent=False,
        )
        task = report.tasks[0]
        assert report.url and task.address and task.host_port, report
        urls = {
            "url": report.url,
            "task": f"http://{task.address}",
            "published_port": f"http://127.0.0.1:{task.host_port}",
        }
        for url in urls.values():
            wait_http(f"{url}/ready")
            wrk(f"{url}/predict", GUIDE_BODY, seconds=1, connections=args.connections)  # warm
        runs: dict[str, list[float]] = {key: [] for key in urls}
        for _ in range(args.rounds):
            for key, url in urls.items():
                result = wrk(
                    f"{url}/predict", GUIDE_BODY, seconds=args.seconds, connections=args.connections
                )
                assert result.errors == 0 and result.non2xx == 0, result
                runs[key].append(result.requests / result.seconds)
        median = {key: statistics.median(values) for key, values in runs.items()}
        results = {
            "machine": machine(),
            "args": vars(args),
            "req_per_s": runs,
            "url_vs_task": median["url"] / median["task"],
            "published_port_vs_task": median["published_port"] / median["task"],
        }
        save_results("url_vs_task", results)
        for key, value in median.items():
            print(f"{key}: {value:.0f} req/s (median of {args.rounds})")
        print(f"via_published_port={results['published_port_vs_task']:.3f}")
        print(f"url_vs_task={results['url_vs_task']:.3f}")
    finally:
        stop_all(name)
        emulator.stop(state_dir=state)
        docker.from_env().images.remove(project.reference, force=True)


if __name__ == "__main__":
    main()
