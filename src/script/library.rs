//! Function libraries (Redis 7.0's FUNCTION LOAD): their metadata line, and the registry of
//! loaded libraries. The registry is data, like keys: it is saved in snapshots, replicated
//! by the FUNCTION commands, and survives restarts. The compiled functions live in the
//! function VM, which follows the registry by its generation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::ScriptEngine;
use super::engine::RegisteredFunction;
use super::flags::ScriptFlags;
use super::watch::ScriptWatch;

/// The only engine Redis 7.0 has.
pub const ENGINE_NAME: &str = "LUA";

/// What the `#!lua name=<library>` line of a library says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryHeader {
    pub engine: String,
    pub name: String,
    /// Bytes of the header line (the code proper starts with its line feed).
    pub len_bytes: usize,
}

/// Reads a library's header, with Redis's errors (without the `ERR ` code).
pub fn parse_header(code: &[u8]) -> Result<LibraryHeader, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = match crate::resp::parse::split_args(&code[..end]) {
        Some(parts) if !parts.is_empty() => parts,
        _ => return Err("Invalid library metadata".into()),
    };
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok(LibraryHeader {
        engine,
        name,
        len_bytes: end,
    })
}

/// Library and function names: letters, digits and underscores, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A function a library registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMeta {
    /// As registered (lookups ignore case).
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// As its header gives it (lookups ignore case).
    pub name: String,
    /// The code as loaded, header included (FUNCTION LIST WITHCODE, DUMP, snapshots).
    pub code: Bytes,
    /// By lower-case name.
    pub functions: BTreeMap<String, FunctionMeta>,
}

/// The key library and function names are found by: Redis compares them ignoring case.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Every loaded library, and which library each function name belongs to; both by
/// lower-case name.
#[derive(Debug, Clone, Default)]
pub struct Libraries {
    libraries: BTreeMap<String, Library>,
    function_owner: HashMap<String, String>,
    /// Bumped on every change: the function VM compares it with what it compiled.
    generation: u64,
}

/// Generations come from one counter, so that two registries never share one (a VM built
/// for one is never taken for the other's).
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)
}

impl Libraries {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, name: &str) -> Option<&Library> {
        self.libraries.get(&name_key(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    pub fn len(&self) -> usize {
        self.libraries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.libraries.is_empty()
    }

    pub fn function_count(&self) -> usize {
        self.function_owner.len()
    }

    /// The library holding function `name`, and the function's metadata.
    pub fn function(&self, name: &str) -> Option<(&Library, &FunctionMeta)> {
        let key = name_key(name);
        let library = self.libraries.get(self.function_owner.get(&key)?)?;
        let meta = library.functions.get(&key)?;
        Some((library, meta))
    }

    /// A function of `library` whose name another library already uses.
    pub fn colliding_function(&self, library: &str, functions: &[String]) -> Option<String> {
        let library = name_key(library);
        functions
            .iter()
            .find(|f| {
                self.function_owner
                    .get(&name_key(f))
                    .is_some_and(|owner| *owner != library)
            })
            .cloned()
    }

    /// Adds (or replaces) a library. The caller checked names and collisions.
    pub fn insert(&mut self, library: Library) {
        let key = name_key(&library.name);
        self.remove(&key);
        for function in library.functions.keys() {
            self.function_owner.insert(function.clone(), key.clone());
        }
        self.libraries.insert(key, library);
        self.generation = next_generation();
    }

    pub fn remove(&mut self, name: &str) -> Option<Library> {
        let library = self.libraries.remove(&name_key(name))?;
        for function in library.functions.keys() {
            self.function_owner.remove(function);
        }
        self.generation = next_generation();
        Some(library)
    }

    pub fn clear(&mut self) {
        self.libraries.clear();
        self.function_owner.clear();
        self.generation = next_generation();
    }

    /// Every library's code, for snapshots and FUNCTION DUMP.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libraries.values().map(|l| l.code.clone()).collect()
    }
}

/// A library compiled and checked, ready to be added to the registry.
pub struct Compiled {
    pub library: Library,
    pub registered: Vec<RegisteredFunction>,
}

/// Compiles `code` in `engine` as a new library, checked against `libraries`: its header,
/// its name, the functions it registers and theirs. Errors are Redis's texts without `ERR `.
pub fn compile(
    engine: &ScriptEngine,
    libraries: &Libraries,
    code: &Bytes,
    replace: bool,
    timeout: Option<std::time::Duration>,
) -> Result<Compiled, String> {
    let header = parse_header(code)?;
    if !valid_name(&header.name) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    if !header.engine.eq_ignore_ascii_case(ENGINE_NAME) {
        return Err(format!("Engine '{}' not found", header.engine));
    }
    if libraries.get(&header.name).is_some() && !replace {
        return Err(format!("Library '{}' already exists", header.name));
    }
    let registered = engine.create_library(&code[header.len_bytes..], timeout)?;
    if registered.is_empty() {
        return Err("No functions registered".into());
    }
    let names: Vec<String> = registered.iter().map(|f| f.name.clone()).collect();
    if let Some(taken) = libraries.colliding_function(&header.name, &names) {
        return Err(format!("Function {taken} already exists"));
    }
    let functions = registered
        .iter()
        .map(|f| {
            (
                name_key(&f.name),
                FunctionMeta {
                    name: f.name.clone(),
                    description: f.description.clone(),
                    flags: f.flags,
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    Ok(Compiled {
        library: Library {
            name: header.name,
            code: code.clone(),
            functions,
        },
        registered,
    })
}

/// A fresh function VM holding every library of `libraries`.
pub fn build_vm(libraries: &Libraries, watch: &Arc<ScriptWatch>) -> Result<ScriptEngine, String> {
    let mut engine = ScriptEngine::new(Arc::clone(watch)).map_err(|e| e.to_string())?;
    for library in libraries.iter() {
        let header = parse_header(&library.code)?;
        match engine.create_library(&library.code[header.len_bytes..], None) {
            Ok(registered) => engine.install_library(&[], registered),
            // The registry only holds libraries that loaded: this is a bug or a VM out
            // of memory. The library stays listed; its functions answer not found.
            Err(e) => tracing::warn!("function library {} does not load: {e}", library.name),
        }
    }
    engine.set_libraries_generation(libraries.generation());
    Ok(engine)
}

/// A library compiled in a scratch VM to learn its functions (a payload's, a snapshot's).
pub fn compile_alone(
    restored: &Libraries,
    code: &Bytes,
    watch: &Arc<ScriptWatch>,
) -> Result<Library, String> {
    let scratch = ScriptEngine::new(Arc::clone(watch)).map_err(|e| e.to_string())?;
    Ok(compile(&scratch, restored, code, false, None)?.library)
}

/// The registry of the libraries a snapshot holds, each compiled to learn its functions.
/// A library that does not load is reported and left out.
pub fn from_codes(codes: &[Bytes], watch: &Arc<ScriptWatch>) -> Libraries {
    let mut libraries = Libraries::default();
    for code in codes {
        match compile_alone(&libraries, code, watch) {
            Ok(library) => libraries.insert(library),
            Err(e) => tracing::warn!("a function library in the snapshot does not load: {e}"),
        }
    }
    libraries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_redis_reads_them() {
        let header = parse_header(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(header.engine, "lua");
        assert_eq!(header.name, "mylib");
        assert_eq!(header.len_bytes, 16);
        assert_eq!(
            parse_header(b"return 1").unwrap_err(),
            "Missing library metadata"
        );
        assert_eq!(
            parse_header(b"#!lua name=x").unwrap_err(),
            "Invalid library metadata"
        );
        assert_eq!(
            parse_header(b"#!lua\n").unwrap_err(),
            "Library name was not given"
        );
        assert_eq!(
            parse_header(b"#!lua name=a name=b\n").unwrap_err(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            parse_header(b"#!lua foo=bar\n").unwrap_err(),
            "Invalid metadata value given: foo=bar"
        );
    }

    #[test]
    fn the_registry_tracks_function_owners() {
        let mut libraries = Libraries::default();
        let meta = FunctionMeta {
            name: "F".into(),
            description: None,
            flags: ScriptFlags::default(),
        };
        let library = Library {
            name: "A".into(),
            code: Bytes::from_static(b"#!lua name=A\n"),
            functions: BTreeMap::from([("f".to_string(), meta.clone())]),
        };
        libraries.insert(library.clone());
        assert_eq!(
            libraries.function("f").map(|(lib, _)| lib.name.as_str()),
            Some("A")
        );
        assert_eq!(
            libraries.colliding_function("b", &["f".into()]),
            Some("f".into())
        );
        assert_eq!(libraries.colliding_function("a", &["F".into()]), None);
        let generation = libraries.generation();
        libraries.remove("A");
        assert!(libraries.function("f").is_none());
        assert!(libraries.generation() > generation);
    }
}
