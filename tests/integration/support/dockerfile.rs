//! The repository's `Dockerfile` and `.dockerignore`, read the way Docker reads them (enough
//! of them for the files we ship), and a daemon-free replay of a build stage.
//!
//! No Docker engine runs where the tests run. [`Dockerfile`] parses the instructions so
//! tests can check the image's contract statically; [`BuildReplay`] then *executes* a build
//! stage's `WORKDIR`, `ENV`, `COPY` and `RUN` steps in a scratch root, from a scratch copy of
//! the build context filtered by `.dockerignore`, so a file the build needs but the context
//! or a `COPY` leaves out fails the test as it would fail `docker build`. It refuses any
//! instruction it does not know rather than skip it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCKERFILE: &str = include_str!("../../../Dockerfile");
/// The repository's `.dockerignore`.
pub const DOCKERIGNORE: &str = include_str!("../../../.dockerignore");

/// One instruction: its stage (0 = the first `FROM`), keyword (upper case) and arguments,
/// continuation lines joined.
#[derive(Debug, Clone)]
pub struct Instruction {
    /// 0 for the first `FROM`'s stage, 1 for the next, …
    pub stage: usize,
    /// `FROM`, `COPY`, `RUN`, … in upper case.
    pub keyword: String,
    /// The arguments, white space folded.
    pub args: String,
}

/// The instructions of a Dockerfile: comment lines skipped (also inside continuations),
/// `\` continuations joined.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut stage = 0;
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let full = std::mem::take(&mut pending);
        let (keyword, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" && !out.is_empty() {
            stage += 1;
        }
        out.push(Instruction {
            stage,
            keyword,
            args: args.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    assert!(pending.is_empty(), "Dockerfile ends inside a continuation");
    out
}

/// A parsed Dockerfile.
pub struct Dockerfile {
    /// Every instruction, in order.
    pub instructions: Vec<Instruction>,
}

impl Dockerfile {
    /// The repository's `Dockerfile`.
    pub fn of_repository() -> Dockerfile {
        Dockerfile::parse(DOCKERFILE)
    }

    /// Parses `text`, which must start with `FROM`.
    pub fn parse(text: &str) -> Dockerfile {
        let instructions = instructions(text);
        assert!(
            instructions.first().is_some_and(|i| i.keyword == "FROM"),
            "the Dockerfile must start with FROM: {instructions:?}"
        );
        Dockerfile { instructions }
    }

    /// The last stage's number.
    pub fn final_stage(&self) -> usize {
        self.instructions.last().expect("instructions").stage
    }

    /// The arguments of every `keyword` instruction in `stage`.
    pub fn all(&self, stage: usize, keyword: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|i| i.stage == stage && i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    }

    /// The arguments of the one `keyword` instruction of `stage` (the last one wins, as in
    /// Docker).
    pub fn last(&self, stage: usize, keyword: &str) -> &str {
        self.all(stage, keyword)
            .pop()
            .unwrap_or_else(|| panic!("no {keyword} in stage {stage} of the Dockerfile"))
    }

    /// The stage named `name` by `FROM image AS name`.
    pub fn stage_named(&self, name: &str) -> usize {
        self.instructions
            .iter()
            .find(|i| {
                let words: Vec<_> = i.args.split(' ').collect();
                i.keyword == "FROM"
                    && words.len() == 3
                    && words[1].eq_ignore_ascii_case("as")
                    && words[2] == name
            })
            .unwrap_or_else(|| panic!("no stage named {name:?} in the Dockerfile"))
            .stage
    }

    /// The final stage's `ENV NAME=value`.
    pub fn env(&self, name: &str) -> String {
        self.all(self.final_stage(), "ENV")
            .iter()
            .flat_map(|args| args.split(' '))
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("the final stage sets no ENV {name}=…"))
            .trim_matches('"')
            .to_owned()
    }

    /// `keyword`'s exec form (`["a", "b"]`) in the final stage, after `prefix`.
    pub fn exec_form(&self, keyword: &str, prefix: &str) -> Vec<String> {
        let args = self.last(self.final_stage(), keyword);
        let json = args
            .find(prefix)
            .map(|at| &args[at + prefix.len()..])
            .unwrap_or_else(|| panic!("{keyword} {args} has no {prefix:?}"))
            .trim();
        serde_json::from_str(json).unwrap_or_else(|e| {
            panic!("{keyword} must use the exec form [\"…\"] (no shell in the image): {json} ({e})")
        })
    }
}

/// Whether `.dockerignore` excludes `path`: the last pattern matching the path or one of its
/// parent folders decides; `!` re-includes. Supports what our file uses: `*` within a
/// segment, `**` for any number of segments.
pub fn dockerignored(rules: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let mut ignored = false;
    for line in rules.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (include, pattern) = match line.strip_prefix('!') {
            Some(pattern) => (true, pattern),
            None => (false, line),
        };
        let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
        if (1..=segments.len()).any(|n| glob(&pattern, &segments[..n])) {
            ignored = !include;
        }
    }
    ignored
}

fn glob(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            glob(&pattern[1..], path) || (!path.is_empty() && glob(pattern, &path[1..]))
        }
        (Some(p), Some(s)) => segment_matches(p, s) && glob(&pattern[1..], &path[1..]),
        _ => false,
    }
}

fn segment_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (head.len()..=text.len())
                    .any(|at| text.is_char_boundary(at) && segment_matches(tail, &text[at..]))
        }
    }
}

/// The longest a replayed `RUN` step may take (a cold release build of every dependency).
const RUN_STEP_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// A build stage replayed without Docker: container paths live under `root`, `COPY` reads
/// from `context`.
pub struct BuildReplay {
    root: PathBuf,
    context: PathBuf,
    env: HashMap<String, String>,
}

impl BuildReplay {
    /// A replay into the empty folder `root`, copying from the build context `context` (a
    /// folder holding only what `.dockerignore` lets through: see [`copy_context`]).
    pub fn new(root: &Path, context: &Path) -> BuildReplay {
        BuildReplay {
            root: root.to_owned(),
            context: context.to_owned(),
            env: HashMap::new(),
        }
    }

    /// Where container path `path` is on this machine.
    pub fn host_path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// Adds `NAME=value` to the environment of every `RUN` step, like `--build-arg` (used to
    /// make cargo's release profile fast: what is replayed is which files the steps find).
    pub fn env(mut self, name: &str, value: &str) -> BuildReplay {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Runs the steps of `stage` in order.
    ///
    /// # Errors
    ///
    /// The first step that fails, with what it printed.
    pub fn run(&mut self, dockerfile: &Dockerfile, stage: usize) -> Result<(), String> {
        let mut workdir = self.root.clone();
        for step in dockerfile.instructions.iter().filter(|i| i.stage == stage) {
            let args = step.args.as_str();
            match step.keyword.as_str() {
                "FROM" => {}
                "WORKDIR" => {
                    workdir = self.host_path(args);
                    std::fs::create_dir_all(&workdir)
                        .map_err(|e| format!("WORKDIR {args}: {e}"))?;
                }
                "ENV" => {
                    for pair in args.split(' ') {
                        let (name, value) = pair
                            .split_once('=')
                            .ok_or_else(|| format!("ENV {args}: only NAME=value is replayed"))?;
                        self.env
                            .insert(name.to_owned(), value.trim_matches('"').to_owned());
                    }
                }
                "COPY" => self.copy(args, &workdir)?,
                "RUN" => self.shell(args, &workdir)?,
                other => return Err(format!("the replay does not know {other} {args}")),
            }
        }
        Ok(())
    }

    /// `COPY SRC… DEST` from the context; a folder's contents are copied, as Docker does.
    fn copy(&self, args: &str, workdir: &Path) -> Result<(), String> {
        let words: Vec<&str> = args.split(' ').collect();
        let [sources @ .., dest] = &words[..] else {
            return Err(format!("COPY {args}: expected SRC… DEST"));
        };
        if sources.is_empty() || words.iter().any(|w| w.starts_with("--")) {
            return Err(format!("COPY {args}: only COPY SRC… DEST is replayed"));
        }
        let dest_is_folder = dest.ends_with('/') || sources.len() > 1;
        let dest = if dest.starts_with('/') {
            self.host_path(dest)
        } else {
            workdir.join(dest)
        };
        let dest_is_folder = dest_is_folder || dest.is_dir();
        for source in sources {
            let from = self.context.join(source);
            if !from.exists() {
                return Err(format!("COPY {args}: {source} is not in the build context"));
            }
            let into = match Path::new(source).file_name() {
                Some(name) if dest_is_folder && !from.is_dir() => dest.join(name),
                _ => dest.clone(),
            };
            copy_tree(&from, &into).map_err(|e| format!("COPY {args}: {e}"))?;
        }
        Ok(())
    }

    /// `RUN command` (shell form) with `sh -c` in `workdir`, under [`RUN_STEP_TIMEOUT`].
    fn shell(&self, command: &str, workdir: &Path) -> Result<(), String> {
        if command.starts_with('[') {
            return Err(format!("RUN {command}: only the shell form is replayed"));
        }
        let log = workdir.join(".replay-run.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut child = Command::new("sh")
            .args(["-c", command])
            .current_dir(workdir)
            .envs(&self.env)
            // The test's own target folder must not redirect the image's build.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("RUN {command}: {e}"))?;
        let deadline = Instant::now() + RUN_STEP_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "RUN {command}: still running after {RUN_STEP_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if status.success() {
            Ok(())
        } else {
            let tail: Vec<&str> = output.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(format!("RUN {command}: {status}\n{}", tail.join("\n")))
        }
    }
}

/// Copies the files of `repository` that `.dockerignore` (`rules`) lets into a build
/// context into `into`. A folder that is ignored is not entered (so a `!` rule re-including
/// something below an ignored folder is not supported; ours has none).
pub fn copy_context(repository: &Path, rules: &str, into: &Path) -> std::io::Result<()> {
    fn walk(repository: &Path, relative: &Path, rules: &str, into: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(repository.join(relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let text = path.to_string_lossy();
            if dockerignored(rules, &text) {
                continue;
            }
            if entry.file_type()?.is_dir() {
                walk(repository, &path, rules, into)?;
            } else {
                let target = into.join(&path);
                std::fs::create_dir_all(target.parent().expect("a file has a folder"))?;
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }
    std::fs::create_dir_all(into)?;
    walk(repository, Path::new(""), rules, into)
}

/// Copies a file, or a folder's contents, to `into`.
fn copy_tree(from: &Path, into: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(into)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &into.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = into.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, into).map(|_| ())
    }
}
