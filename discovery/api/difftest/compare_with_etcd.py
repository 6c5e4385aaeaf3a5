#!/usr/bin/env python3
"""Sends store-independent requests to a running etcd 3.4 and to api_echo; compares the bytes.

Usage: compare_with_etcd.py ETCD_PORT API_ECHO_BINARY CLUSTER_ID_HEX
       compare_with_etcd.py --spawn ETCD_BINARY API_ECHO_BINARY
With --spawn it starts its own single-member etcd (--enable-v2=true) on free 127.0.0.1 ports
with a temporary data directory, waits for /health, compares, and stops that etcd by PID.
Only requests that etcd answers without touching the key space are listed: routing answers
(404, 405, 301, OPTIONS, Go's 400 pages), keys parameter errors, early members errors. The Date
header is removed from etcd's answer (api_echo sends none). Exit status 1 on any difference.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FORM = 'Content-Type: application/x-www-form-urlencoded\r\n'
JSON = 'Content-Type: application/json\r\n'


def request(line, headers='', body=b'', host=True):
    if isinstance(body, str):
        body = body.encode('latin-1')
    text = line + '\r\n' + ('Host: x\r\n' if host else '') + headers
    if body:
        text += 'Content-Length: %d\r\n' % len(body)
    text += 'Connection: close\r\n\r\n'
    return text.encode('latin-1') + body


def cases():
    out = []
    endpoints = ['/version', '/health', '/v2/machines', '/v2/members', '/v2/members/leader',
                 '/v2/stats/self', '/v2/stats/leader', '/v2/stats/store', '/v2/keys/a',
                 '/v2/auth/enable', '/v2/auth/users', '/v2/auth/users/x', '/nope']
    for method in ['HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'FOO']:
        for path in endpoints:
            out.append(request('%s %s HTTP/1.1' % (method, path)))
    for target in ['/v2', '/v2/keysfoo', '/', '/v2/stats', '/v2/stats/', '/v2/members/xyz',
                   '/v2/members/leader/', '/v2/machines/', '/version/', '/health/', '/v3',
                   '/v3beta', '/v2//keys/a', '/v2/keys//a?x=1&y=%zz', '/v2/keys/a%2F..%2Fb',
                   '/v2/keys/%C3%A9//x', '/v2/keys/\xc3\xa9//x?q', '/v2/keys/a"<b>//',
                   '//v2/keys', '/v2/keys/%2e%2e/x', '/v2/keys/x%2F%2F',
                   '/v2/keys//a!*()$,;:@=+%25', "/v2/keys//a?\xc3\xa9=1&q=\"<>'",
                   'http://h/v2/keys//a?x', '/v2/keys/%zz', '/v2/keys//a?']:
        for method in ['GET', 'HEAD', 'PUT', 'DELETE']:
            out.append(request('%s %s HTTP/1.1' % (method, target)))
    out.append(request('GET /v2/keys/a HTTP/1.1', host=False))
    out.append(request('GET /v2/keys/a HTTP/1.1', 'Host: y\r\n'))
    for query in ['recursive=x', 'recursive=', 'recursive', 'recursive=tRue', 'sorted=x',
                  'wait=x', 'dir=x', 'quorum=x', 'stream=x', 'noValueOnSuccess=x',
                  'prevExist=x', 'prevExist=', 'refresh=x', 'refresh=', 'prevIndex=x',
                  'prevIndex=', 'prevIndex=%2B1', 'waitIndex=x', 'waitIndex=-1', 'ttl=x',
                  'ttl=-1', 'ttl=+1', 'ttl=18446744073709551616', 'prevValue=', 'a=1;b=2',
                  'x=%zz', 'x=%z', 'x=%', '%zz=1', 'x=%zz;', 'x=1;&y=%zz', 'y=%zz&x=1;',
                  'x=%\xff', 'recursive=x&prevIndex=x', 'waitIndex=x&prevIndex=x',
                  'ttl=x&recursive=x', 'stream=x&sorted=x&quorum=y',
                  'noValueOnSuccess=x&ttl=x', 'ttl=x&prevExist=x', 'prevExist=x&refresh=x',
                  'recursive=x&recursive=1']:
        out.append(request('GET /v2/keys/a?%s HTTP/1.1' % query))
    for query in ['wait=true', 'refresh=true', 'refresh=true&value=z', 'refresh=true&ttl=',
                  'refresh=true&value=z&ttl=5', 'wait=true&prevValue=',
                  'prevValue=&noValueOnSuccess=x', 'wait=x&dir=y', 'stream=x&wait=true',
                  'wait=true&noValueOnSuccess=x']:
        for method in ['PUT', 'POST', 'DELETE', 'HEAD']:
            out.append(request('%s /v2/keys/a?%s HTTP/1.1' % (method, query)))
    for ctype, body in [(FORM, 'a=1;b'), (FORM, 'a=%zz'), (FORM, 'refresh=true&value=1'),
                        ('Content-Type: application/x-www-form-urlencoded; charset\r\n', 'v=1'),
                        ('Content-Type: ;\r\n', 'v=1'), ('Content-Type: application/\r\n', 'v'),
                        ('Content-Type: a/b c\r\n', 'v=1'), ('Content-Type: a b\r\n', 'v=1'),
                        ('Content-Type: text/plain; a=1; a=2\r\n', 'v=1'),
                        ('Content-Type: text/plain; a="x\r\n', 'v=1')]:
        out.append(request('PUT /v2/keys/a?x=%zz HTTP/1.1', ctype, body))
    out.append(request('POST /v2/members HTTP/1.1', 'Content-Type: Application/JSON\r\n', '{}'))
    out.append(request('POST /v2/members HTTP/1.1', 'Content-Type: text/plain; x=1\r\n', '{}'))
    out.append(request('PUT /v2/members/abc HTTP/1.1', 'Content-Type: text/plain\r\n', '{}'))
    out.append(request('PUT /v2/members/leader HTTP/1.1', JSON, '{}'))
    out.append(request('DELETE /v2/members/zz HTTP/1.1'))
    out.append(request('PUT /v2/members/ HTTP/1.1'))
    out.append(request('GET /v2/keys/a HTTP/1.0'))
    for method, target in [('GET', '/v2/auth/enable'), ('DELETE', '/v2/auth/enable'),
                           ('GET', '/v2/auth/users'), ('GET', '/v2/auth/users/'),
                           ('GET', '/v2/auth/users/root'), ('GET', '/v2/auth/users/a%20b'),
                           ('DELETE', '/v2/auth/users/nobody'), ('GET', '/v2/auth/roles'),
                           ('GET', '/v2/auth/roles/'), ('GET', '/v2/auth/roles/root'),
                           ('GET', '/v2/auth/roles/guest'), ('DELETE', '/v2/auth/roles/nobody'),
                           ('DELETE', '/v2/auth/roles/root')]:
        out.append(request('%s %s HTTP/1.1' % (method, target)))
    out.append(request('OPTIONS * HTTP/1.1'))
    out.append(request('GET * HTTP/1.1'))
    out.append(request('PUT * HTTP/1.0', host=False))
    out.append(request('PATCH /v2/keys/a HTTP/1.0'))
    return out


PARAMS = ['recursive', 'sorted', 'wait', 'dir', 'quorum', 'stream', 'noValueOnSuccess',
          'prevExist', 'refresh', 'prevIndex', 'waitIndex', 'ttl', 'prevValue', 'value', 'x']
VALUES = ['', 'true', 'True', 'TRUE', 'tRue', '1', '0', 'f', 'F', 'no', '5', '007', '-1', '+1',
          '18446744073709551615', '18446744073709551616', '%zz', '%4', '%', '%41', 'a+b', ';', 'v',
          '%E2%80%A8', '%ff', '1.5']


def random_cases(count, seed):
    """Random parameter soups (fixed seed). GET, HEAD and writes under /difftest-random."""
    import random
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pairs = []
        for _ in range(rng.randint(1, 4)):
            name = rng.choice(PARAMS)
            pairs.append(name if rng.random() < 0.1 else name + '=' + rng.choice(VALUES))
        query = '&'.join(pairs)
        method = rng.choice(['GET', 'GET', 'HEAD', 'PUT', 'POST', 'DELETE'])
        if rng.random() < 0.3 and method in ('PUT', 'POST'):
            out.append(request('%s /v2/keys/difftest-random/k HTTP/1.1' % method, FORM, query))
        else:
            out.append(request('%s /v2/keys/difftest-random/k?%s HTTP/1.1' % (method, query)))
    return out


def is_parameter_error(answer):
    return b'"errorCode":2' in answer or (b' 405 ' in answer.split(b'\r\n')[0])


def compare_values(port, echo, count, seed):
    """Random byte strings set through a form body; etcd's JSON vs render_event's."""
    import random
    import re
    import urllib.parse
    rng = random.Random(seed)
    pieces = [bytes([b]) for b in range(256)] + [
        '\u2028'.encode(), '\u2029'.encode(), 'é'.encode(), '😀'.encode(), b'\xed\xa0\x80',
        b'\xf4\x90\x80\x80', b'\xe0\x80\xaf', b'\xef\xbf\xbd', b'\xc0\xaf', b'\xe2\x80']
    failures = 0
    for i in range(count):
        value = b''.join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        key = '/difftest-values/k%d' % i
        body = 'value=' + urllib.parse.quote_from_bytes(value, safe='')
        # Delete first so every set creates the key (no prevNode).
        etcd_answer(port, request('DELETE /v2/keys%s HTTP/1.1' % key))
        theirs = etcd_answer(port, request('PUT /v2/keys%s HTTP/1.1' % key, FORM, body))
        payload = theirs.partition(b'\r\n\r\n')[2]
        match = re.search(rb'"modifiedIndex":(\d+)', payload)
        if not match:
            failures += 1
            print('NO EVENT for', repr(value), repr(theirs))
            continue
        ours = subprocess.run([echo, '--render-set', key, match.group(1).decode()], input=value,
                              capture_output=True).stdout
        if ours != payload:
            failures += 1
            print('VALUE DIFF', repr(value), '\n  etcd:', repr(payload), '\n  ours:', repr(ours))
    print('%d random values, %d differences' % (count, failures))
    return failures


def etcd_answer(port, raw):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(raw)
    s.settimeout(2.0)
    data = b''
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    head, sep, body = data.partition(b'\r\n\r\n')
    lines = [l for l in head.split(b'\r\n') if not l.startswith(b'Date: ')]
    return b'\r\n'.join(lines) + sep + body


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spawn_and_compare(etcd, echo):
    client, peer = free_port(), free_port()
    data = tempfile.mkdtemp(prefix='api-difftest-')
    peer_url = 'http://127.0.0.1:%d' % peer
    client_url = 'http://127.0.0.1:%d' % client
    proc = subprocess.Popen(
        [etcd, '--enable-v2=true', '--data-dir', data, '--listen-client-urls', client_url,
         '--advertise-client-urls', client_url, '--listen-peer-urls', peer_url,
         '--initial-advertise-peer-urls', peer_url, '--initial-cluster', 'default=' + peer_url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        cluster_id = None
        while time.monotonic() < deadline and cluster_id is None:
            try:
                with urllib.request.urlopen(client_url + '/v2/members', timeout=1) as r:
                    cluster_id = r.headers['X-Etcd-Cluster-Id']
            except OSError:
                time.sleep(0.1)
        if cluster_id is None:
            print('etcd did not start')
            return 1
        return compare(client, echo, cluster_id)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)


def main():
    if sys.argv[1] == '--spawn':
        return spawn_and_compare(sys.argv[2], sys.argv[3])
    return compare(int(sys.argv[1]), sys.argv[2], sys.argv[3])


def compare(port, echo, cluster_id):
    failures = 0
    skipped = 0
    all_cases = cases() + random_cases(int(os.environ.get('DIFFTEST_RANDOM', '300')), 20261127)
    for raw in all_cases:
        ours = subprocess.run([echo, cluster_id], input=raw, capture_output=True).stdout
        if ours.startswith(b'ROUTED'):
            # Served from the store: only check that etcd did not see a parameter error.
            theirs = etcd_answer(port, raw)
            if is_parameter_error(theirs):
                failures += 1
                print('ETCD REJECTED, WE ACCEPTED', repr(raw), repr(theirs))
            skipped += 1
            continue
        theirs = etcd_answer(port, raw)
        if ours != theirs:
            failures += 1
            print('DIFF for', repr(raw))
            print('  etcd:', repr(theirs))
            print('  ours:', repr(ours))
    print('%d cases, %d skipped (need the store), %d differences' %
          (len(all_cases), skipped, failures))
    failures += compare_values(port, echo, int(os.environ.get('DIFFTEST_VALUES', '200')), 7)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
