// Sets PyO3's version cfgs (`Py_3_10`, ...) for this crate, as pyo3 does for itself.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
