// Many execs at once through the SDK, shared by tests/sdk/sprites.test.mjs
// (a small run, every output checked) and bench/sdk_execs.mjs (the figure
// the issue asks for). Not a test file of its own: it takes the SDK's
// clients from its caller, so that it needs no SDK to be found beside it.

// Runs @total execs spread over the sprites named @names from @clients
// concurrent clients (@makeClient() makes each: its own connections). Each
// exec prints a line unique to it on stdout and one on stderr, which are
// checked. Resolves with { times (ms, sorted), errors: [messages] }.
export async function runExecs(makeClient, names, total, clients) {
	const times = [];
	const errors = [];
	let next = 0;

	async function worker(c) {
		const client = makeClient();
		for (;;) {
			const i = next++;
			if (i >= total)
				return;
			const name = names[i % names.length];
			const t0 = process.hrtime.bigint();
			try {
				const r = await client.sprite(name).execFile('sh',
				    ['-c', `echo out-${i}-${name}; echo err-${i} >&2`]);
				const ms = Number(process.hrtime.bigint() - t0) / 1e6;
				if (r.stdout !== `out-${i}-${name}\n` || r.stderr !== `err-${i}\n` ||
				    r.exitCode !== 0)
					errors.push(`exec ${i} (client ${c}) on ${name}: got ` +
					    JSON.stringify(r));
				else
					times.push(ms);
			} catch (e) {
				errors.push(`exec ${i} (client ${c}) on ${name}: ${e.message}`);
			}
		}
	}

	await Promise.all(Array.from({ length: clients }, (_, c) => worker(c)));
	times.sort((x, y) => x - y);
	return { times, errors };
}

// The @p-th percentile (0..100) of sorted @times, nearest rank.
export function percentile(times, p) {
	if (times.length === 0)
		return NaN;
	const rank = Math.ceil((p / 100) * times.length);
	return times[Math.min(times.length, Math.max(1, rank)) - 1];
}
