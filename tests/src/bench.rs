//! The benchmark binaries' option parsing.

/// Options as given: each name with its value (`None` for a flag).
pub type BenchOptions = Vec<(String, Option<String>)>;

/// The command-line options of the benchmark binaries: `--name value`,
/// `--name=value` or a bare flag. `None` for `-h`/`--help`; an error for an
/// unknown option or a missing value.
pub fn bench_options(
    args: impl IntoIterator<Item = String>,
    with_value: &[&str],
    flags: &[&str],
) -> Result<Option<BenchOptions>, String> {
    let mut out = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        if with_value.contains(&name.as_str()) {
            let value = inline
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))?;
            out.push((name, Some(value)));
        } else if flags.contains(&name.as_str()) && inline.is_none() {
            out.push((name, None));
        } else {
            return Err(format!("unknown argument '{arg}' (try --help)"));
        }
    }
    Ok(Some(out))
}

/// A benchmark option's number, within `range`.
pub fn bench_number<T>(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    value
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            format!(
                "{name}: '{value}' is not a number in {}..={}",
                range.start(),
                range.end()
            )
        })
}

/// What a benchmark's parsed arguments mean for its `main`: run with them,
/// or end now — after printing `usage` for `--help` (success), or the error
/// (exit status 2).
pub fn bench_args<A>(
    name: &str,
    usage: &str,
    parsed: Result<Option<A>, String>,
) -> Result<A, std::process::ExitCode> {
    match parsed {
        Ok(Some(args)) => Ok(args),
        Ok(None) => {
            println!("{usage}");
            Err(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            Err(std::process::ExitCode::from(2))
        }
    }
}

/// The nearest-rank quantile `q` (0‥=1) of sorted values; `None` for none.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}
