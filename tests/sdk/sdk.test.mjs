// The official Sprites SDK (@fly/sprites, pinned in package.json) against a
// live sprig over TCP with a bearer token: every call sprig serves must pass
// as it would against the hosted API, and every call it does not serve yet
// must fail with a clear error in the SDK's error shape, never hang.
// Run by tests/integration/test_sdk.sh with SPRIG_URL and SPRIG_TOKEN set.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { SpritesClient, APIError, ExecError } from '@fly/sprites';

const url = process.env.SPRIG_URL;
const token = process.env.SPRIG_TOKEN;
assert.ok(url && token, 'SPRIG_URL and SPRIG_TOKEN must be set');

const client = new SpritesClient(token, { baseURL: url, timeout: 60000 });
const A = 'sdk-a';
const B = 'sdk-b';
let sprite;

// Runs @cmd (a SpriteCommand) to its exit: { code, stdout, stderr }.
function collect(cmd, input) {
	return new Promise((resolve, reject) => {
		const out = [], err = [];
		cmd.stdout.on('data', (d) => out.push(d));
		cmd.stderr.on('data', (d) => err.push(d));
		cmd.on('error', reject);
		cmd.on('exit', (code) => resolve({
			code,
			stdout: Buffer.concat(out).toString(),
			stderr: Buffer.concat(err).toString(),
		}));
		if (input !== undefined)
			cmd.on('spawn', () => { cmd.stdin.write(input); cmd.stdin.end(); });
	});
}

// Whether @promise rejects with an APIError of @status (and @code).
async function rejectsAPI(promise, status, code) {
	await assert.rejects(promise, (e) => {
		assert.ok(e instanceof APIError, `an APIError, not ${e}`);
		assert.equal(e.statusCode, status, e.message);
		if (code)
			assert.equal(e.errorCode, code);
		assert.ok(e.message.length > 0);
		return true;
	});
}

// The messages of an NDJSON stream, each with when it came (ms).
async function readStream(stream) {
	const msgs = [];
	for await (const m of stream)
		msgs.push({ ...m, at: performance.now() });
	return msgs;
}

after(async () => {
	for (const name of [A, B])
		await client.deleteSprite(name).catch(() => {});
});

test('a bad token is refused with 401 in the API error shape', async () => {
	const bad = new SpritesClient('sprig_' + '0'.repeat(64), { baseURL: url });
	await rejectsAPI(bad.getSprite(A), 401, 'unauthorized');
	await rejectsAPI(new SpritesClient('', { baseURL: url }).listSprites(), 401, 'unauthorized');
});

test('createSprite', async () => {
	sprite = await client.createSprite(A);
	assert.equal(sprite.name, A);
	assert.equal(sprite.status, 'running');
	assert.ok(sprite.id);
	assert.ok(sprite.createdAt instanceof Date && !isNaN(sprite.createdAt));
	const b = await client.createSprite(B);
	assert.equal(b.name, B);
	await rejectsAPI(client.createSprite(A), 409, 'already_exists');
	await rejectsAPI(client.createSprite('Bad Name'), 400, 'invalid_request');
});

test('createSprite with what sprig cannot honour is a 501', async () => {
	await rejectsAPI(client.createSprite('sdk-c', { environment: { X: '1' } }), 501,
	    'not_implemented');
	await rejectsAPI(client.createSprite('sdk-c', { ramMB: 4096 }), 501, 'not_implemented');
	await rejectsAPI(client.getSprite('sdk-c'), 404, 'not_found');
});

test('getSprite', async () => {
	const s = await client.getSprite(A);
	assert.equal(s.name, A);
	assert.equal(s.status, 'running');
	assert.ok(s.config.ramMB > 0 && s.config.cpus > 0);
	assert.deepEqual(s.labels, []);
	await rejectsAPI(client.getSprite('nope'), 404, 'not_found');
});

test('listSprites with a prefix and pages', async () => {
	let l = await client.listSprites({ prefix: 'sdk-' });
	assert.deepEqual(l.sprites.map((s) => s.name), [A, B]);
	assert.equal(l.hasMore, false);
	l = await client.listSprites({ prefix: 'sdk-b' });
	assert.deepEqual(l.sprites.map((s) => s.name), [B]);
	l = await client.listSprites({ prefix: 'sdk-', maxResults: 1 });
	assert.deepEqual(l.sprites.map((s) => s.name), [A]);
	assert.equal(l.hasMore, true);
	assert.ok(l.nextContinuationToken);
	l = await client.listSprites({ prefix: 'sdk-', maxResults: 1,
	    continuationToken: l.nextContinuationToken });
	assert.deepEqual(l.sprites.map((s) => s.name), [B]);
	assert.equal(l.hasMore, false);
	const all = await client.listAllSprites('sdk-');
	assert.deepEqual(all.map((s) => s.name), [A, B]);
	assert.equal((await client.listSprites({ prefix: 'zzz' })).sprites.length, 0);
});

test('exec: stdout, stderr and exit codes', async () => {
	const r = await sprite.exec('echo hello');
	assert.deepEqual(r, { stdout: 'hello\n', stderr: '', exitCode: 0 });
	await assert.rejects(sprite.execFile('sh', ['-c', 'echo out; echo err >&2; exit 3']),
	    (e) => {
		assert.ok(e instanceof ExecError);
		assert.equal(e.exitCode, 3);
		assert.equal(e.stdout, 'out\n');
		assert.equal(e.stderr, 'err\n');
		return true;
	});
	await assert.rejects(sprite.execFile('no-such-command'), (e) => e.exitCode === 127);
});

test('exec: env and working directory', async () => {
	const r = await sprite.execFile('sh', ['-c', 'echo "$GREETING"; pwd'],
	    { env: { GREETING: 'hi there' }, cwd: '/tmp' });
	assert.equal(r.stdout, 'hi there\n/tmp\n');
});

test('spawn: stdin in, stdout out, stdin EOF ends it', async () => {
	const cmd = sprite.spawn('sh', ['-c', 'tr a-z A-Z; echo done >&2']);
	const r = await collect(cmd, 'abc\nxyz\n');
	assert.deepEqual(r, { code: 0, stdout: 'ABC\nXYZ\n', stderr: 'done\n' });
});

test('spawn with a tty: size, resize and exit status', async () => {
	let r = await collect(sprite.spawn('stty', ['size'], { tty: true, rows: 24, cols: 80 }));
	assert.equal(r.code, 0);
	assert.match(r.stdout, /24 80/);

	const cmd = sprite.spawn('sh', ['-c', 'read x; stty size'], { tty: true, rows: 24, cols: 80 });
	cmd.on('spawn', () => {
		cmd.resize(100, 40);
		// After the resize has gone ahead of it on the same WebSocket.
		setTimeout(() => cmd.stdin.write('go\n'), 200);
	});
	r = await collect(cmd);
	assert.equal(r.code, 0);
	assert.match(r.stdout, /40 100/);

	r = await collect(sprite.spawn('sh', ['-c', 'exit 5'], { tty: true }));
	assert.notEqual(r.code, 0, 'a failing tty command does not read as success');
});

test('execFileHTTP: exec without a WebSocket', async () => {
	let r = await sprite.execFileHTTP('sh', ['-c', 'tr a-z A-Z; echo "$X" >&2'],
	    { input: 'piped\n', env: { X: 'from env' } });
	assert.deepEqual(r, { stdout: 'PIPED\n', stderr: 'from env\n', exitCode: 0 });
	r = await sprite.execFileHTTP('seq', ['1000']);
	assert.equal(r.stdout.split('\n').length, 1001);
	await assert.rejects(sprite.execFileHTTP('sh', ['-c', 'echo no; exit 4']),
	    (e) => e instanceof ExecError && e.exitCode === 4 && e.stdout === 'no\n');
	await rejectsAPI(client.sprite('nope').execFileHTTP('true'), 404, 'not_found');

	// A client that leaves takes its command with it, as on the WebSocket.
	await assert.rejects(sprite.execFileHTTP('sh', ['-c', 'echo > /tmp/started; sleep 31'],
	    { timeout: 1000 }));
	await new Promise((resolve) => setTimeout(resolve, 2500));
	const r2 = await sprite.execFile('sh', ['-c', 'ls /tmp/started; ps | grep -c "[s]leep 31" || true']);
	assert.equal(r2.stdout, '/tmp/started\n0\n', 'it ran, and was killed');
});

test('exec of true: latency through the SDK', async () => {
	const times = [];
	for (let i = 0; i < 20; i++) {
		const t0 = process.hrtime.bigint();
		await sprite.execFile('true');
		times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	times.sort((x, y) => x - y);
	console.log(`# exec of true through the SDK: median ${times[10].toFixed(1)} ms, ` +
	    `min ${times[0].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`);
});

test('checkpoints: create with NDJSON progress, list, get, restore', async () => {
	await sprite.execFile('sh', ['-c', 'echo before > /root/marker; sync']);
	const msgs = await readStream(await sprite.createCheckpoint('sdk first'));
	assert.ok(msgs.length >= 2, JSON.stringify(msgs));
	assert.equal(msgs[0].type, 'info');
	const done = msgs[msgs.length - 1];
	assert.equal(done.type, 'complete', JSON.stringify(msgs));
	const id = done.id;
	assert.match(id, /^v\d+$/);

	const list = await sprite.listCheckpoints();
	const cp = list.find((c) => c.id === id);
	assert.ok(cp, JSON.stringify(list));
	assert.equal(cp.comment, 'sdk first');
	assert.ok(cp.createTime instanceof Date && !isNaN(cp.createTime));

	const got = await sprite.getCheckpoint(id);
	assert.equal(got.id, id);
	assert.equal(got.comment, 'sdk first');
	await assert.rejects(sprite.getCheckpoint('v999'), /Checkpoint not found/);

	await sprite.execFile('sh', ['-c', 'echo after > /root/marker; sync']);
	const rmsgs = await readStream(await sprite.restoreCheckpoint(id));
	assert.equal(rmsgs[0].type, 'info');
	assert.equal(rmsgs[rmsgs.length - 1].type, 'complete', JSON.stringify(rmsgs));
	// Progress as it happens: the reboot comes between the two lines.
	assert.ok(rmsgs[rmsgs.length - 1].at - rmsgs[0].at > 50, JSON.stringify(rmsgs));
	const r = await sprite.execFile('cat', ['/root/marker']);
	assert.equal(r.stdout, 'before\n');

	await assert.rejects(sprite.restoreCheckpoint('v999'), /status 404.*no checkpoint v999/);
});

// Resolves with the session_info text frame of @cmd (createSession, attachSession).
function sessionInfo(cmd) {
	return new Promise((resolve, reject) => {
		cmd.on('message', (m) => { if (m && m.type === 'session_info') resolve(m); });
		cmd.on('error', reject);
	});
}

// Waits until @fn() is true, at most @ms.
async function until(fn, ms, what) {
	const end = Date.now() + ms;
	while (!fn()) {
		if (Date.now() > end)
			assert.fail(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

test('sessions: createSession, listSessions, attachSession, killSession', async () => {
	const script = 'i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.2; done';
	const created = sprite.createSession('sh', ['-c', script]);
	const info = await sessionInfo(created);
	const id = info.session_id;
	assert.ok(id, 'session_info names the session');
	assert.equal(info.tty, true);
	created.wsCmd.close();	// detach: the command goes on

	await new Promise((r) => setTimeout(r, 800));
	const mine = (await sprite.listSessions()).find((x) => x.id === id);
	assert.ok(mine, 'the detached session is listed');
	assert.equal(mine.isActive, true);
	assert.equal(mine.tty, true);
	assert.match(mine.command, /^sh -c /);
	assert.ok(mine.created instanceof Date && !isNaN(mine.created));

	// Attach: the output made while detached, then live output.
	const attached = sprite.attachSession(id);
	let out = '';
	attached.stdout.on('data', (d) => { out += d; });
	const exited = new Promise((resolve) => attached.on('exit', resolve));
	const again = await sessionInfo(attached);
	assert.equal(again.session_id, id);
	await until(() => /tick0\b/.test(out), 5000, 'the replayed output');
	const seen = (out.match(/tick(\d+)/g) || []).length;
	await until(() => (out.match(/tick(\d+)/g) || []).length > seen + 2, 5000, 'live output');

	const kill = await sprite.killSession(id);
	const events = [];
	await kill.processAll((e) => { events.push(e); });
	assert.deepEqual(events.map((e) => e.type).filter((t) => t !== 'timeout' && t !== 'killed'),
	    ['signal', 'exited', 'complete']);
	assert.notEqual(await exited, 0, 'the attached client sees a killed command fail');
	assert.equal((await sprite.listSessions()).find((x) => x.id === id), undefined);

	await rejectsAPI(sprite.killSession(id), 404, 'not_found');
	const ghost = sprite.attachSession('999999');
	await new Promise((resolve) => ghost.on('error', resolve));
});

test('what sprig does not serve yet fails clearly', async () => {
	await assert.rejects(sprite.listCheckpoints('v0'), /status 501/);
	await assert.rejects(sprite.filesystem('/').watch('/tmp'), /WebSocket/);	/* a 501 */
	const cc = sprite.spawn('true', [], { controlMode: true, detachable: true });
	await new Promise((resolve) => cc.on('error', resolve));
});

test('deleteSprite', async () => {
	await client.deleteSprite(B);
	await rejectsAPI(client.getSprite(B), 404, 'not_found');
	await rejectsAPI(client.deleteSprite(B), 404, 'not_found');
});
