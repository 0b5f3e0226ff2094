"""The proxy's nginx.conf (its validity under real nginx is checked by the integration tests)."""

from __future__ import annotations

from mlinfra.proxy import Pool, Route, Upstream, read_pools, read_routes, render_nginx_conf


def _server_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("server 1")]


def test_targets_become_one_upstream_with_keepalive_and_retries() -> None:
    text = render_nginx_conf(
        [Upstream("127.0.0.1", 32769), Upstream("127.0.0.1", 32768), Upstream("127.0.0.1", 32769)],
        host="127.0.0.1",
        port=8080,
    )

    assert _server_lines(text) == [
        "server 127.0.0.1:32768 max_fails=2 fail_timeout=10s;",
        "server 127.0.0.1:32769 max_fails=2 fail_timeout=10s;",
    ]
    assert "listen 127.0.0.1:8080;" in text
    assert "keepalive 16;" in text
    assert "keepalive_timeout 0;" in text  # a reload must not reset client connections
    assert 'proxy_set_header Connection "";' in text
    assert "proxy_next_upstream error timeout http_502 http_503;" in text


def test_bodies_pass_to_the_target_unlimited_and_unbuffered_like_an_alb() -> None:
    # The service answers an oversized body with its own JSON 413; nginx must not first.
    text = render_nginx_conf([Upstream("127.0.0.1", 32768)], host="127.0.0.1", port=8080)

    assert "client_max_body_size 0;" in text
    assert "proxy_request_buffering off;" in text


def test_no_targets_answer_503_like_an_alb_without_healthy_targets() -> None:
    text = render_nginx_conf([], host="127.0.0.1", port=18080)

    assert "upstream" not in text
    assert "return 503" in text
    assert "listen 127.0.0.1:18080;" in text


def test_weights_split_requests_over_the_pools_at_random() -> None:
    stable = Pool("tg-svc", 75, (Upstream("127.0.0.1", 32768),))
    canary = Pool("tg-svc-canary", 25, (Upstream("127.0.0.1", 32770),))

    text = render_nginx_conf([], host="127.0.0.1", port=8080, pools=[stable, canary])

    assert "upstream tg-svc {" in text and "upstream tg-svc-canary {" in text
    assert 'split_clients "${request_id}" $mlinfra_pool {' in text
    assert "25.00% tg-svc-canary;" in text.replace("  ", "")  # the larger share takes "*"
    assert "* tg-svc;" in text
    assert "proxy_pass http://$mlinfra_pool;" in text
    assert sorted(read_pools(text)) == sorted([stable, canary])


def test_a_weighted_pool_without_targets_answers_503_and_weight_0_takes_nothing() -> None:
    stable = Pool("tg-svc", 90, (Upstream("127.0.0.1", 32768),))
    empty = Pool("tg-svc-canary", 10)

    split = render_nginx_conf([], host="127.0.0.1", port=8080, pools=[stable, empty])
    assert "10.00% none;" in split and "if ($mlinfra_pool = none)" in split

    drained = Pool("tg-svc-canary", 0, (Upstream("127.0.0.1", 32770),))
    text = render_nginx_conf([], host="127.0.0.1", port=8080, pools=[stable, drained])
    assert "split_clients" not in text and "proxy_pass http://tg-svc;" in text
    assert "upstream tg-svc-canary {" in text  # still listed: its tasks are the service's
    assert sorted(read_pools(text)) == sorted([stable, drained])


def test_a_configuration_without_pools_reads_back_as_one_service_pool() -> None:
    text = render_nginx_conf([Upstream("127.0.0.1", 32768)], host="127.0.0.1", port=8080)

    assert read_pools(text) == [Pool("service", 1, (Upstream("127.0.0.1", 32768),))]


def _routed() -> str:
    pools = [
        Pool("tg-own", 1, (Upstream("127.0.0.1", 32768),)),
        Pool("tg-b", 0, (Upstream("127.0.0.1", 32770),)),
        Pool("tg-c", 0, ()),
    ]
    routes = [
        Route(100, "/models/b", "tg-b"),
        Route(100, "/models/b/*", "tg-b"),
        Route(101, "/models/c/*", "tg-c"),
    ]
    return render_nginx_conf([], host="127.0.0.1", port=8080, pools=pools, routes=routes)


def _location_targets(text: str) -> dict[str, str]:
    """location -> what it does (the upstream it passes to, or its return)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        words = line.strip().rstrip("{").strip()
        if words.startswith("location "):
            current = words.removeprefix("location ")
        elif current is not None and words.startswith(("proxy_pass ", "return ")):
            found[current] = words.rstrip(";")
            current = None
    return found


def test_path_rules_become_locations_before_the_default_action() -> None:
    text = _routed()

    assert _location_targets(text) == {
        "= /models/b": "proxy_pass http://tg-b",
        "/models/b/": "proxy_pass http://tg-b",
        # A rule's group with no target answers 503, as the ALB's empty group does.
        "/models/c/": 'return 503 "mlinfra local load balancer: no registered targets\\n"',
        "/": "proxy_pass http://tg-own",
    }
    # A pool only a rule reaches takes no share of the default action: no split.
    assert "split_clients" not in text


def test_routes_are_read_back_from_the_configuration() -> None:
    assert read_routes(_routed()) == [
        Route(100, "/models/b", "tg-b"),
        Route(100, "/models/b/*", "tg-b"),
        Route(101, "/models/c/*", "tg-c"),
    ]
    assert [p.name for p in read_pools(_routed())] == ["tg-b", "tg-c", "tg-own"]


def test_alb_path_patterns_map_to_nginx_locations() -> None:
    assert Route(1, "/models/a/*", "p").location() == "/models/a/"
    assert Route(1, "/models/a", "p").location() == "= /models/a"
    assert Route(1, "/v?/a*/predict", "p").location() == '~ "^/v./a.*/predict$"'


def test_two_rules_on_one_pattern_give_one_location_to_the_first() -> None:
    pools = [
        Pool("tg-a", 0, (Upstream("127.0.0.1", 1),)),
        Pool("tg-b", 0, (Upstream("127.0.0.1", 2),)),
    ]
    routes = [Route(200, "/x/*", "tg-b"), Route(100, "/x/*", "tg-a")]

    text = render_nginx_conf([], host="127.0.0.1", port=8080, pools=pools, routes=routes)

    assert _location_targets(text)["/x/"] == "proxy_pass http://tg-a"
    assert text.count("location /x/ ") == 1
