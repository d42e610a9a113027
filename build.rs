//! Compiles the small C helper that does INCRBYFLOAT arithmetic in `long double`, the type
//! Redis uses, so that results and their text match Redis's digit for digit.

fn main() {
    println!("cargo:rerun-if-changed=src/native/longdouble.c");
    cc::Build::new()
        .file("src/native/longdouble.c")
        .warnings(true)
        .compile("sluice_longdouble");
}
