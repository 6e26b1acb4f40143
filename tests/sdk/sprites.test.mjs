// The rest of the Sprites SDK's sandbox surface against a live sprig, over
// TCP with a bearer token: labels and update, watchSprites, policies, the
// API's limits (each with its status in the SDK's error shape), and many
// execs at once. Run by tests/integration/test_sdk.sh with SPRIG_URL and
// SPRIG_TOKEN set; it makes and deletes its own sprites (spr-*).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SpritesClient, APIError } from '@fly/sprites';
import { runExecs, percentile } from './execs.mjs';

const url = process.env.SPRIG_URL;
const token = process.env.SPRIG_TOKEN;
assert.ok(url && token, 'SPRIG_URL and SPRIG_TOKEN must be set');

const client = new SpritesClient(token, { baseURL: url, timeout: 60000 });
const A = 'spr-a';
const B = 'spr-b';
const W = 'spr-w';
let a;

after(async () => {
	for (const name of [A, B, W])
		await client.deleteSprite(name).catch(() => {});
});

async function rejectsAPI(promise, status, code) {
	await assert.rejects(promise, (e) => {
		assert.ok(e instanceof APIError, `an APIError, not ${e}`);
		assert.equal(e.statusCode, status, e.message);
		if (code)
			assert.equal(e.errorCode, code, e.message);
		assert.ok(e.message.length > 0);
		return true;
	});
}

// A raw request with the token: { status, body (parsed JSON or text) }.
async function call(method, path, body, headers = {}) {
	const r = await fetch(url + path, {
		method,
		headers: { Authorization: `Bearer ${token}`, ...headers },
		body: body === undefined ? undefined : typeof body === 'string' ? body :
		    JSON.stringify(body),
	});
	const text = await r.text();
	let parsed = text;
	try { parsed = JSON.parse(text); } catch { /* not JSON */ }
	return { status: r.status, body: parsed };
}

// Whether a raw call answers @status with error @code and a message.
async function refused(method, path, body, status, code, match) {
	const r = await call(method, path, body);
	assert.equal(r.status, status, JSON.stringify(r.body));
	assert.equal(r.body.error, code, JSON.stringify(r.body));
	assert.ok(typeof r.body.message === 'string' && r.body.message.length > 0);
	if (match)
		assert.match(r.body.message, match);
}

test('create with labels and URL settings; update them', async () => {
	a = await client.createSprite(A, { labels: ['team:web', 'tier-1'],
	    urlSettings: { auth: 'sprite' } });
	assert.deepEqual(a.labels, ['team:web', 'tier-1']);
	assert.deepEqual(a.urlSettings, { auth: 'sprite', privateAccess: undefined });
	await client.createSprite(B);

	let s = await a.update({ labels: ['x', 'y'] });
	assert.deepEqual(s.labels, ['x', 'y']);
	assert.equal(s.urlSettings.auth, 'sprite', 'what was not sent is kept');
	s = await client.updateSprite(A, { urlSettings: { auth: 'public', privateAccess: 'admins' } });
	assert.deepEqual(s.labels, ['x', 'y']);
	assert.deepEqual(s.urlSettings, { auth: 'public', privateAccess: 'admins' });
	await a.updateURLSettings({ auth: 'sprite' });

	s = await client.getSprite(A);
	assert.deepEqual(s.labels, ['x', 'y']);
	assert.equal(s.urlSettings.auth, 'sprite');
	assert.equal(s.url, undefined, 'sprig gives sprites no URLs');
	const l = await client.listSprites({ prefix: 'spr-' });
	assert.deepEqual(l.sprites.map((x) => [x.name, x.labels]), [[A, ['x', 'y']], [B, []]]);
	// sprig's own filter beside the SDK's: ?label=
	const byLabel = await call('GET', '/v1/sprites?prefix=spr-&label=y');
	assert.deepEqual(byLabel.body.sprites.map((x) => x.name), [A]);

	await rejectsAPI(client.updateSprite('spr-none', { labels: [] }), 404, 'not_found');
	s = await a.update({ labels: [] });
	assert.deepEqual(s.labels, []);
});

test('bad updates are 400 with a clear message, and change nothing', async () => {
	await a.update({ labels: ['keep'] });
	const p = `/v1/sprites/${A}`;
	await refused('PUT', p, { labels: 'x' }, 400, 'invalid_request', /labels must be an array/);
	await refused('PUT', p, { labels: [1] }, 400, 'invalid_request', /each label/);
	await refused('PUT', p, { labels: ['has space'] }, 400, 'invalid_request', /each label/);
	await refused('PUT', p, { labels: ['a'.repeat(129)] }, 400, 'invalid_request', /1 to 128/);
	await refused('PUT', p, { labels: Array.from({ length: 65 }, (_, i) => `l${i}`) }, 400,
	    'invalid_request', /at most 64 labels/);
	await refused('PUT', p, { labels: ['a', 'a'] }, 400, 'invalid_request', /twice/);
	await refused('PUT', p, { labels: ['a'], colour: 'red' }, 400, 'invalid_request',
	    /no field "colour"/);
	await refused('PUT', p, { url_settings: { auth: 'open' } }, 400, 'invalid_request',
	    /auth must be/);
	await refused('PUT', p, { url_settings: 'public' }, 400, 'invalid_request', /url_settings/);
	await refused('PUT', p, {}, 400, 'invalid_request', /nothing to update/);
	await refused('PUT', p, '{"labels": [', 400, 'invalid_request', /JSON object/);
	await rejectsAPI(client.createSprite('spr-bad', { labels: ['no spaces'] }), 400,
	    'invalid_request');
	await rejectsAPI(client.getSprite('spr-bad'), 404, 'not_found');
	assert.deepEqual((await client.getSprite(A)).labels, ['keep']);
});

// The next line of @stream, or fails after @ms.
async function nextLine(stream, ms, what) {
	let timer;
	const t = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
	});
	try {
		return await Promise.race([stream.next(), t]);
	} finally {
		clearTimeout(timer);
	}
}

test('watchSprites: the list, then each change of status', async () => {
	const stream = await client.watchSprites({ prefix: 'spr-' });
	const first = [await nextLine(stream, 5000, 'first line'),
	    await nextLine(stream, 5000, 'second line')];
	assert.deepEqual(first.map((e) => [e.name, e.status]), [[A, 'running'], [B, 'running']]);
	assert.ok(first[0].timestamp instanceof Date && !isNaN(first[0].timestamp));
	assert.ok(first[0].organization.running >= 2, JSON.stringify(first[0].organization));

	// Until @name reaches @status, every line is about a sprite of ours.
	async function until(name, status) {
		for (;;) {
			const e = await nextLine(stream, 60000, `${name} ${status}`);
			assert.ok(e !== null, 'the stream stays open');
			if (e.type === 'heartbeat')
				continue;
			assert.match(e.name, /^spr-/);
			if (e.name === name && e.status === status)
				return e;
		}
	}
	await client.createSprite(W);
	await until(W, 'running');
	await call('POST', `/v1/sprites/${W}/stop`);
	const stopped = await until(W, 'stopped');
	assert.ok(stopped.organization.cold >= 1, JSON.stringify(stopped.organization));
	await client.deleteSprite(W);
	await until(W, 'deleted');
	stream.close();

	await rejectsAPI(client.watchSprites({ maxResults: 5000 }), 400, 'invalid_request');
});

test('network policy: kept and shown, checked like the hosted API', async () => {
	assert.deepEqual(await a.getNetworkPolicy(), { rules: [] });
	const policy = { rules: [
		{ domain: 'registry.npmjs.org', action: 'allow' },
		{ domain: '*.example.com', action: 'deny' },
		{ include: 'defaults' },
	] };
	await a.updateNetworkPolicy(policy);
	assert.deepEqual(await a.getNetworkPolicy(), policy);
	assert.deepEqual(await client.sprite(B).getNetworkPolicy(), { rules: [] }, 'per sprite');

	const bad = [
		[{ rules: 'all' }, /rules an array/],
		[{ rules: [{ domain: 'x.com' }] }, /needs an action/],
		[{ rules: [{ domain: 'x.com', action: 'maybe' }] }, /action must be/],
		[{ rules: [{ domain: 'not a host', action: 'allow' }] }, /host name/],
		[{ rules: [{ domain: 'x.com', include: 'defaults', action: 'allow' }] }, /not both/],
		[{ rules: [{ include: 'everything' }] }, /defaults/],
		[{ rules: [], mode: 'strict' }, /no field \\"mode/],
		[{ rules: [{ domain: 'x.com', action: 'allow', port: 443 }] }, /no field \\"port/],
	];
	for (const [p, why] of bad)
		await assert.rejects(a.updateNetworkPolicy(p), (e) => {
			assert.match(e.message, /^Invalid policy: /);
			assert.match(e.message, why);
			return true;
		});
	assert.deepEqual(await a.getNetworkPolicy(), policy, 'a refused policy changes nothing');
	await assert.rejects(client.sprite('spr-none').getNetworkPolicy(), /status 404/);
});

test('privileges and resources policies: kept, shown, deleted', async () => {
	assert.deepEqual(await a.getPrivilegesPolicy(), {});
	const priv = { profile: 'minimal', devices: ['/dev/fuse'], noNewPrivileges: true };
	await a.updatePrivilegesPolicy(priv);
	assert.deepEqual(await a.getPrivilegesPolicy(), priv);
	await assert.rejects(a.updatePrivilegesPolicy({ profile: 'root' }), /status 400.*profile/);
	await assert.rejects(a.updatePrivilegesPolicy({ devices: ['/etc/passwd'] }),
	    /status 400.*under \/dev/);
	await a.deletePrivilegesPolicy();
	assert.deepEqual(await a.getPrivilegesPolicy(), {});

	await a.updateResourcesPolicy({ memory: { limitMB: 1024, autoscale: false } });
	assert.deepEqual(await a.getResourcesPolicy(), { memory: { limitMB: 1024, autoscale: false } });
	await assert.rejects(a.updateResourcesPolicy({ memory: { limitMB: -5 } }),
	    /status 400.*limit_mb/);
	await assert.rejects(a.updateResourcesPolicy({ memory: { limitMB: 'lots' } }),
	    /status 400.*limit_mb/);
	await a.deleteResourcesPolicy();
	assert.deepEqual(await a.getResourcesPolicy(), { memory: undefined });
});

// Resolves once @cmd (a spawn) is running.
function spawned(cmd) {
	return new Promise((resolve, reject) => {
		cmd.on('spawn', resolve);
		cmd.on('error', reject);
	});
}

test('concurrent execs: capped per sprite and in all, with 429', async () => {
	const before = (await call('GET', '/v1/settings')).body;
	assert.equal(before.max_execs_per_sprite, 64);
	assert.equal(before.max_execs, 256);
	try {
		let r = await call('POST', '/v1/settings', { max_execs_per_sprite: 2 });
		assert.equal(r.status, 200);
		assert.equal(r.body.max_execs_per_sprite, 2);
		const long = [a.spawn('sleep', ['60']), a.spawn('sleep', ['60'])];
		await Promise.all(long.map(spawned));

		await rejectsAPI(a.execFileHTTP('true'), 429, 'too_many_execs');
		const third = a.spawn('true');
		await new Promise((resolve) => third.on('error', resolve));
		assert.equal((await client.sprite(B).execFile('echo', ['b'])).stdout, 'b\n',
		    'another sprite is not held back');

		r = await call('POST', '/v1/settings', { max_execs_per_sprite: 0, max_execs: 2 });
		assert.equal(r.body.max_execs, 2);
		await rejectsAPI(client.sprite(B).execFileHTTP('true'), 429, 'too_many_execs');

		for (const c of long)
			c.kill('KILL');
		await Promise.all(long.map((c) => new Promise((resolve) => c.on('exit', resolve))));
		assert.equal((await a.execFile('echo', ['free'])).stdout, 'free\n',
		    'an ended command no longer counts');
	} finally {
		await call('POST', '/v1/settings', { max_execs: before.max_execs,
		    max_execs_per_sprite: before.max_execs_per_sprite });
	}
	await refused('POST', '/v1/settings', { max_execs: -1 }, 400, 'invalid_request');
	await refused('POST', '/v1/settings', { max_execs_per_sprite: 'many' }, 400,
	    'invalid_request');
});

test('body and header size limits: 413 and 431 in the error shape', async () => {
	await refused('PUT', `/v1/sprites/${A}`, JSON.stringify({ labels: ['x'.repeat(2 << 20)] }),
	    413, 'too_large');
	const r = await call('GET', `/v1/sprites/${A}`, undefined, { 'X-Big': 'y'.repeat(20000) });
	assert.equal(r.status, 431);
	assert.equal(r.body.error, 'headers_too_large');
	assert.equal((await call('GET', `/v1/sprites/${A}`)).status, 200, 'the daemon goes on');
});

test('open connections: past the limit a request gets 503', async () => {
	const { hostname, port } = new URL(url);
	const socks = await Promise.all(Array.from({ length: 258 }, () => new Promise((resolve,
	    reject) => {
		const s = net.connect(Number(port), hostname, () => resolve(s));
		s.on('error', reject);
	})));
	try {
		// MHD accepts them on its loop: the first call may come before all are in.
		let r;
		for (let i = 0; i < 50; i++) {
			r = await call('GET', '/v1/daemon', undefined, { Connection: 'close' });
			if (r.status === 503)
				break;
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		assert.equal(r.status, 503, JSON.stringify(r.body));
		assert.equal(r.body.error, 'too_many_connections');
	} finally {
		for (const s of socks)
			s.destroy();
	}
	let ok = false;
	for (let i = 0; i < 50 && !ok; i++) {
		ok = (await call('GET', '/v1/daemon')).status === 200;
		if (!ok)
			await new Promise((resolve) => setTimeout(resolve, 100));
	}
	assert.ok(ok, 'once they close, requests are served again');
});

test('40 execs over 2 sprites from 10 clients: every output right', async () => {
	const { times, errors } = await runExecs(
	    () => new SpritesClient(token, { baseURL: url, timeout: 60000 }), [A, B], 40, 10);
	assert.deepEqual(errors, []);
	assert.equal(times.length, 40);
	console.log(`# median ${percentile(times, 50).toFixed(1)} ms, p99 ` +
	    `${percentile(times, 99).toFixed(1)} ms: 40 execs, 10 clients, 2 sprites`);
});
