'use strict';
// This process's own TCP sockets (the `connections` command): /proc/self/fd socket inodes joined
// with /proc/self/net/tcp{,6}, as the Python driver reads them, so both report alike.

const fs = require('fs');
const net = require('net');

const TCP_STATES = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

// /proc prints each 32-bit word of the address in host (little-endian) order.
function hexAddr(text) {
  const [host, port] = text.split(':');
  const words = [];
  for (let i = 0; i < host.length; i += 8) {
    const word = host.slice(i, i + 8);
    words.push(word.match(/../g).reverse().join(''));
  }
  const hex = words.join('');
  let ip;
  if (hex.length === 8) {
    ip = hex.match(/../g).map((b) => parseInt(b, 16)).join('.');
  } else if (hex.startsWith('00000000000000000000ffff')) { // IPv4-mapped IPv6: shown as IPv4
    ip = hex.slice(24).match(/../g).map((b) => parseInt(b, 16)).join('.');
  } else {
    const groups = hex.match(/..../g).map((g) => parseInt(g, 16).toString(16));
    ip = `[${compressIPv6(groups.join(':'))}]`;
  }
  return `${ip}:${parseInt(port, 16)}`;
}

function compressIPv6(full) {
  // The canonical short form (RFC 5952), as Python's ipaddress prints it.
  if (!net.isIPv6(full)) return full;
  const groups = full.split(':');
  let best = [-1, 0];
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i += 1; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j += 1;
    if (j - i > best[1] && j - i > 1) best = [i, j - i];
    i = j;
  }
  if (best[0] < 0) return groups.join(':');
  const head = groups.slice(0, best[0]).join(':');
  const tail = groups.slice(best[0] + best[1]).join(':');
  return `${head}::${tail}`;
}

function socketInodes() {
  const inodes = new Set();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed between readdir and readlink
    }
    if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
  }
  return inodes;
}

function ownTcpSockets() {
  const inodes = socketInodes();
  const out = [];
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let rows;
    try {
      rows = fs.readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      if (cols.length > 9 && inodes.has(cols[9])) {
        out.push({ local: hexAddr(cols[1]), remote: hexAddr(cols[2]),
                   state: TCP_STATES[cols[3]] || cols[3], inode: Number(cols[9]) });
      }
    }
  }
  return out;
}

module.exports = { ownTcpSockets, hexAddr };
