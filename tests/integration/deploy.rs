//! Deployment: the container image's contract and the docker-compose example.
//!
//! No Docker engine runs where these tests run. The `Dockerfile` is checked statically (its
//! binary path, user, ports, config path, health check and locked build must agree with
//! `Cargo.toml`, the code and `examples/docker-compose/`), and its build stage is executed
//! for real: its `WORKDIR`/`COPY`/`RUN` steps replayed in a scratch copy of the build
//! context, so a file the build needs but the context leaves out fails here as it fails
//! `docker build` (support/dockerfile.rs). The real binary then runs the
//! image's `CMD` and `HEALTHCHECK` the way the image does (config from `GATEWAY_CONFIG`,
//! working folder `WORKDIR`), and validates the compose example's config with `gateway
//! check` after making the files its README tells users to make.
//!
//! The reverse-proxy examples (nginx, Caddy, Traefik) are tested in `forward_auth`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use http::Uri;

use crate::support::binary::BIN;
use crate::support::client::TestClient;
use crate::support::compose::{
    COMPOSE_GATEWAY_TOML, COMPOSE_YAML, ImageProcess, cargo_bin_name, compose_dir,
    compose_folder_with_user_files, compose_gateway_config, compose_listeners, healthcheck_passes,
    image_command, output_of, output_text,
};
use crate::support::dockerfile::{
    BuildReplay, DOCKERIGNORE, Dockerfile, Instruction, copy_context, dockerignored,
};
use crate::support::process::{KillOnDrop, free_addrs};
use crate::support::raw::plain_get;
use crate::support::within;
use crate::support::yaml::Yaml;

#[test]
fn image_runs_the_binary_the_release_build_produces() {
    let docker = Dockerfile::of_repository();
    let last = docker.final_stage();
    assert!(last > 0, "the Dockerfile must be multi-stage");

    // COPY --from=<build stage> <workdir>/target/release/<bin> <dest>
    let copy = docker.last(last, "COPY");
    let words: Vec<_> = copy.split(' ').collect();
    let [from, source, dest] = words[..] else {
        panic!("expected COPY --from=STAGE SOURCE DEST, got COPY {copy}");
    };
    let builder = from
        .strip_prefix("--from=")
        .unwrap_or_else(|| panic!("the final stage copies from no stage: COPY {copy}"));
    let build = docker.stage_named(builder);
    let workdir = docker
        .last(build, "WORKDIR")
        .trim_end_matches('/')
        .to_owned();
    let bin = cargo_bin_name();
    assert_eq!(bin, "gateway", "Cargo.toml's [[bin]] name");
    assert_eq!(
        source,
        format!("{workdir}/target/release/{bin}"),
        "the COPY source must be the release binary of Cargo.toml's [[bin]]"
    );
    assert_eq!(
        Path::new(dest).file_name().and_then(|n| n.to_str()),
        Some(bin.as_str())
    );

    // The entrypoint and the health check run that binary; CMD is the `run` subcommand.
    let entrypoint = docker.exec_form("ENTRYPOINT", "");
    assert_eq!(entrypoint, [dest], "ENTRYPOINT must be the copied binary");
    let healthcheck = docker.exec_form("HEALTHCHECK", "CMD");
    assert_eq!(
        healthcheck,
        [dest, "healthcheck"],
        "HEALTHCHECK must run `gateway healthcheck` (the image has no shell or curl)"
    );
    assert_eq!(docker.exec_form("CMD", ""), ["run"]);

    // …and those subcommands exist in the binary.
    for subcommand in ["run", "healthcheck"] {
        let output = Command::new(BIN)
            .args([subcommand, "--help"])
            .output()
            .expect("run gateway");
        assert!(
            output.status.success(),
            "`gateway {subcommand} --help` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn image_runs_as_a_non_root_user() {
    let docker = Dockerfile::of_repository();
    let last = docker.final_stage();
    let user = docker.last(last, "USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !name.is_empty() && name != "root" && name != "0",
        "the image must run as a non-root user, not USER {user}"
    );
    if name.chars().all(|c| c.is_ascii_digit()) {
        return;
    }
    // A user name must exist in the base image: distroless's :nonroot has nonroot (65532).
    let base = docker.last(last, "FROM");
    assert!(
        name == "nonroot" && base.starts_with("gcr.io/distroless/") && base.ends_with(":nonroot"),
        "USER {user} must be a uid, or nonroot on a distroless :nonroot base (FROM {base})"
    );
}

#[test]
fn image_builds_exactly_the_locked_dependencies_in_a_cached_layer() {
    let docker = Dockerfile::of_repository();
    let build = docker.stage_named(
        docker
            .last(docker.final_stage(), "COPY")
            .split(' ')
            .find_map(|w| w.strip_prefix("--from="))
            .expect("COPY --from"),
    );
    let steps: Vec<&Instruction> = docker
        .instructions
        .iter()
        .filter(|i| i.stage == build)
        .collect();
    let position = |what: &dyn Fn(&Instruction) -> bool| steps.iter().position(|i| what(i));
    let builds: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, i)| i.keyword == "RUN" && i.args.contains("cargo build"))
        .map(|(n, _)| n)
        .collect();
    for &n in &builds {
        let args = &steps[n].args;
        assert!(
            args.contains("--release") && args.contains("--locked"),
            "every cargo build must be --release --locked: RUN {args}"
        );
    }
    let copies_lock = position(&|i| {
        i.keyword == "COPY"
            && i.args.split(' ').any(|w| w == "Cargo.lock")
            && i.args.split(' ').any(|w| w == "Cargo.toml")
    })
    .expect("the builder must COPY Cargo.toml and Cargo.lock");
    let copies_src = position(&|i| i.keyword == "COPY" && i.args.starts_with("src "))
        .expect("the builder must COPY src");
    // Dependencies are built (and cached) after the manifests arrive and before the
    // sources do; the gateway is built after the sources.
    assert!(
        builds.len() == 2
            && copies_lock < builds[0]
            && builds[0] < copies_src
            && copies_src < builds[1],
        "expected COPY Cargo.toml Cargo.lock, RUN cargo build (dependencies), COPY src, \
         RUN cargo build: {steps:#?}"
    );
    // The builder follows the latest stable Rust 1.x, which satisfies Cargo.toml's
    // rust-version (a minimum).
    let base = docker.last(build, "FROM");
    assert!(base.starts_with("rust:1"), "builder: FROM {base}");
}

/// The build stage, replayed: the context `.dockerignore` lets through, then every step of
/// the stage, the two `cargo build --release --locked` included. Only the release profile is
/// made fast (no LTO, no optimization) through cargo's environment: what this checks is that
/// the steps find every file they need, not the optimizer. The target folder is kept between
/// runs (like a BuildKit cache mount) so only the first run builds the dependencies.
#[test]
fn image_build_stage_builds_when_replayed_from_the_build_context() {
    let docker = Dockerfile::of_repository();
    let last = docker.final_stage();
    let copy = docker.last(last, "COPY");
    let words: Vec<&str> = copy.split(' ').collect();
    let [from, binary, _dest] = words[..] else {
        panic!("expected COPY --from=STAGE SOURCE DEST, got COPY {copy}");
    };
    let build = docker.stage_named(from.strip_prefix("--from=").expect("COPY --from"));
    let workdir = docker.last(build, "WORKDIR").to_owned();

    let scratch = tempfile::tempdir().expect("tempdir");
    let context = scratch.path().join("context");
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_context(repository, DOCKERIGNORE, &context).expect("copy the build context");
    let mut replay = BuildReplay::new(&scratch.path().join("root"), &context)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-build-replay");
    std::fs::create_dir_all(&cache).expect("cache folder");
    let target = replay.host_path(&format!("{workdir}/target"));
    std::fs::create_dir_all(target.parent().expect("workdir")).expect("workdir");
    std::os::unix::fs::symlink(&cache, &target).expect("mount the target cache");

    if let Err(failure) = replay.run(&docker, build) {
        panic!("the Dockerfile's build stage fails:\n{failure}");
    }
    let built = replay.host_path(binary);
    let output = Command::new(&built)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("the image's binary {binary} was not built: {e}"));
    assert!(output.status.success(), "{}", output_text(&output));
}

/// The replay fails the way `docker build` does, so the test above can fail: a `COPY` of a
/// file the context lacks, a failing `RUN`, an instruction it cannot replay.
#[test]
fn build_replay_refuses_what_docker_build_would_refuse() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let context = scratch.path().join("context");
    std::fs::create_dir_all(&context).expect("context");
    std::fs::write(context.join("Cargo.toml"), "").expect("file");
    let run = |text: &str| {
        let root = tempfile::tempdir_in(scratch.path()).expect("root");
        BuildReplay::new(root.path(), &context).run(&Dockerfile::parse(text), 0)
    };
    assert_eq!(
        run("FROM x\nWORKDIR /b\nCOPY Cargo.toml ./\nRUN test -f Cargo.toml"),
        Ok(())
    );
    let missing = run("FROM x\nWORKDIR /b\nCOPY Cargo.toml benches ./").unwrap_err();
    assert!(
        missing.contains("benches is not in the build context"),
        "{missing}"
    );
    let failing = run("FROM x\nWORKDIR /b\nRUN echo oops && false").unwrap_err();
    assert!(failing.contains("oops"), "{failing}");
    let unknown = run("FROM x\nADD https://example.com/x /x").unwrap_err();
    assert!(unknown.contains("does not know ADD"), "{unknown}");
}

#[test]
fn dockerignore_keeps_secrets_and_build_output_out_of_the_context() {
    for path in [
        "target/release/gateway",
        ".git/config",
        "certs/dev.key",
        "certs/jwt.secret",
        "gateway.toml",
        "users.toml",
        "examples/docker-compose/users.toml",
        "examples/docker-compose/secrets/jwt.secret",
        "examples/docker-compose/certs/example.test.key",
        "src/oops.key",
        "src/auth/oops.pem",
    ] {
        assert!(
            dockerignored(DOCKERIGNORE, path),
            "{path} reaches the image"
        );
    }
    // What the Dockerfile copies must be in the context.
    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "src/auth/jwt.rs",
        "benches/hot_path.rs",
    ] {
        assert!(!dockerignored(DOCKERIGNORE, path), "{path} is ignored");
    }
}

#[test]
fn image_exposes_and_compose_publishes_the_ports_the_config_listens_on() {
    let listeners = compose_listeners();
    let ports: BTreeSet<u16> = listeners.iter().map(SocketAddr::port).collect();
    for addr in listeners {
        assert!(
            addr.ip().is_unspecified(),
            "{addr}: inside a container, listen on all interfaces, or published ports reach nothing"
        );
    }

    let docker = Dockerfile::of_repository();
    let exposed: BTreeSet<u16> = docker
        .all(docker.final_stage(), "EXPOSE")
        .iter()
        .flat_map(|args| args.split(' '))
        .map(|p| p.trim_end_matches("/tcp").parse().expect("EXPOSE port"))
        .collect();
    assert_eq!(
        exposed, ports,
        "EXPOSE vs https, redirect and admin listeners"
    );

    let compose = Yaml::parse(COMPOSE_YAML);
    let published = compose.published_ports("gateway");
    let container: BTreeSet<u16> = published.iter().map(|(_, c)| *c).collect();
    assert_eq!(container, ports, "compose ports vs the config's listeners");
    // The redirect listener sends browsers to its own HTTPS port: the outside ports must be
    // the inside ones.
    for (outside, inside) in published {
        assert_eq!(outside, inside, "compose publishes {inside} as {outside}");
    }
    // The admin listener (no login) is published on the host's loopback only.
    let admin = listeners[2].port();
    assert!(
        compose
            .values("services.gateway.ports")
            .contains(&format!("127.0.0.1:{admin}:{admin}").as_str()),
        "{:?}",
        compose.values("services.gateway.ports")
    );
}

#[test]
fn image_config_path_is_where_compose_mounts_the_config() {
    let docker = Dockerfile::of_repository();
    let config = docker.env("GATEWAY_CONFIG");
    let config = Path::new(&config);
    assert!(config.is_absolute(), "GATEWAY_CONFIG={}", config.display());
    let folder = config.parent().expect("config folder");
    assert_eq!(
        Path::new(docker.last(docker.final_stage(), "WORKDIR")),
        folder,
        "WORKDIR should be the config's folder"
    );

    // The compose file mounts either the config file itself or its folder there, from the
    // example's folder, read-only.
    let compose = Yaml::parse(COMPOSE_YAML);
    let volumes = compose.values("services.gateway.volumes");
    let mount = volumes
        .iter()
        .map(|v| v.split(':').collect::<Vec<_>>())
        .find(|parts| {
            parts.len() >= 2 && (Path::new(parts[1]) == config || Path::new(parts[1]) == folder)
        })
        .unwrap_or_else(|| {
            panic!(
                "no volume mounts {} or its folder: {volumes:?}",
                config.display()
            )
        });
    let source = compose_dir().join(mount[0]);
    let mounted_config = if Path::new(mount[1]) == config {
        source
    } else {
        source.join(config.file_name().expect("file name"))
    };
    assert_eq!(
        std::fs::read_to_string(&mounted_config).ok().as_deref(),
        Some(COMPOSE_GATEWAY_TOML),
        "the mount must put examples/docker-compose/gateway.toml at {}",
        config.display()
    );
    assert_eq!(mount.get(2), Some(&"ro"), "mount the config read-only");
    // The config is not overridden elsewhere.
    assert!(
        compose
            .values("services.gateway.environment.GATEWAY_CONFIG")
            .is_empty()
    );
    assert!(compose.values("services.gateway.command").is_empty());
}

#[test]
fn compose_apps_are_the_gateway_routes_upstreams() {
    let config = compose_gateway_config();
    let compose = Yaml::parse(COMPOSE_YAML);
    let routes = config["route"].as_array().expect("[[route]]");
    let mut upstream_services = BTreeSet::new();
    let mut hosts = BTreeSet::new();
    for route in routes {
        let host = route["host"].as_str().expect("route host");
        hosts.insert(host.to_owned());
        let upstream: Uri = route["upstream"]
            .as_str()
            .expect("route upstream")
            .parse()
            .expect("upstream URL");
        assert_eq!(upstream.scheme_str(), Some("http"), "{upstream}");
        let service = upstream.host().expect("upstream host");
        let port = upstream.port_u16().expect("explicit upstream port");
        assert!(
            compose.services().contains(service),
            "route {host} → {upstream}: no compose service {service:?}"
        );
        let expose = compose.values(&format!("services.{service}.expose"));
        assert!(
            expose.contains(&port.to_string().as_str()),
            "route {host} → {upstream}: service {service} exposes {expose:?}"
        );
        // whoami listens where it is told to.
        for value in compose.values(&format!(
            "services.{service}.environment.WHOAMI_PORT_NUMBER"
        )) {
            assert_eq!(value, port.to_string(), "{service}: WHOAMI_PORT_NUMBER");
        }
        assert!(
            compose
                .values(&format!("services.{service}.ports"))
                .is_empty(),
            "{service}: only the gateway should reach the apps; publish no ports"
        );
        upstream_services.insert(service.to_owned());
    }
    assert_eq!(
        hosts,
        BTreeSet::from([
            "app1.example.test".to_owned(),
            "app2.example.test".to_owned()
        ])
    );
    // Every service but the gateway is an app behind it, started before it.
    let apps: BTreeSet<String> = compose
        .services()
        .into_iter()
        .filter(|s| *s != "gateway")
        .map(str::to_owned)
        .collect();
    assert_eq!(apps, upstream_services);
    let depends: BTreeSet<String> = compose
        .values("services.gateway.depends_on")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(depends, apps);
    // The gateway is built from this repository's Dockerfile.
    assert_eq!(compose.values("services.gateway.build.context"), ["../.."]);
    assert!(compose_dir().join("../../Dockerfile").is_file());
    // One login for both apps: the cookie is for their parent domain.
    let domains = config["auth"]["cookie"]["domains"]
        .as_array()
        .expect("auth.cookie.domains");
    assert_eq!(domains.len(), 1, "{domains:?}");
    let domain = domains[0].as_str().expect("domain");
    for host in &hosts {
        assert!(
            host.ends_with(&format!(".{domain}")),
            "{host} is not under {domain}"
        );
    }
}

#[test]
fn compose_example_config_passes_gateway_check() {
    let (dir, _ca) = compose_folder_with_user_files();
    let config = dir.path().join("gateway.toml");
    let output = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(&config)
        .env_remove("GATEWAY_CONFIG")
        .output()
        .expect("run gateway check");
    assert!(output.status.success(), "{}", output_text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("configuration ok"), "{stdout}");
}

#[tokio::test]
async fn image_command_serves_and_passes_its_healthcheck_and_reloads_on_sighup() {
    let docker = Dockerfile::of_repository();
    let entrypoint = docker.exec_form("ENTRYPOINT", "");
    let cmd = docker.exec_form("CMD", "");
    let healthcheck = docker.exec_form("HEALTHCHECK", "CMD");
    assert_eq!(healthcheck[0], entrypoint[0]);
    let (folder, ca) = compose_folder_with_user_files();
    let config_path = folder.path().join("gateway.toml");

    // The compose config, on free loopback ports (the container's 0.0.0.0 would be this
    // machine's); the rest as shipped. The ports are released before the gateway binds
    // them; on a lost race, retry on new ones.
    let mut last_log = String::new();
    for _ in 0..3 {
        let [https, redirect, admin] = free_addrs::<3>();
        let mut text = COMPOSE_GATEWAY_TOML.to_owned();
        for (listener, addr) in compose_listeners().iter().zip([https, redirect, admin]) {
            text = text.replacen(&format!("\"{listener}\""), &format!("\"{addr}\""), 1);
        }
        std::fs::write(&config_path, &text).expect("write config");

        let log = folder.path().join("gateway.log");
        let child = image_command(folder.path(), &cmd)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(folder.path().join("gateway.err")).expect("log"))
            .spawn()
            .expect("run gateway");
        let mut gateway = ImageProcess {
            child: KillOnDrop::new(child),
            log,
        };
        if !healthcheck_passes(folder.path(), &healthcheck[1..], &mut gateway).await {
            last_log = format!(
                "{}{}",
                gateway.log(),
                std::fs::read_to_string(folder.path().join("gateway.err")).unwrap_or_default()
            );
            if last_log.contains("in use") {
                continue;
            }
            panic!("the HEALTHCHECK never passed; the gateway's output:\n{last_log}");
        }

        // It serves HTTPS with the example's certificate (nothing behind it resolves here,
        // so ask for what needs no app); the redirect listener sends browsers to it, and the
        // admin listener answers /healthz and /metrics.
        let client = TestClient::new(https, &ca.cert);
        let response = client.get("app1.example.test", "/.auth/login").await;
        assert_eq!(response.status, 200, "{}", response.text());
        let response = plain_get(redirect, "app1.example.test", "/x?y=1").await;
        assert!(response.starts_with("HTTP/1.1 308"), "{response}");
        assert!(
            response.to_ascii_lowercase().contains(&format!(
                "location: https://app1.example.test:{}/x?y=1\r\n",
                https.port()
            )),
            "{response}"
        );
        let response = plain_get(admin, "localhost", "/healthz").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let response = plain_get(admin, "localhost", "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");

        // `docker compose kill -s HUP gateway`: a reload, not the end of the process.
        gateway.signal("HUP");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            gateway.child.try_wait().expect("try_wait").is_none(),
            "SIGHUP stopped the gateway:\n{}",
            gateway.log()
        );
        assert!(
            healthcheck_passes(folder.path(), &healthcheck[1..], &mut gateway).await,
            "unhealthy after SIGHUP:\n{}",
            gateway.log()
        );

        // `docker stop`: SIGTERM, a clean exit; then the health check fails.
        gateway.signal("TERM");
        let status = within(async {
            loop {
                if let Some(status) = gateway.child.try_wait().expect("try_wait") {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        assert!(
            status.success(),
            "exit after SIGTERM: {status:?}\n{}",
            gateway.log()
        );
        let output = within(output_of(image_command(folder.path(), &healthcheck[1..])))
            .await
            .expect("run healthcheck");
        assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
        return;
    }
    panic!("the gateway could not bind free ports three times:\n{last_log}");
}
