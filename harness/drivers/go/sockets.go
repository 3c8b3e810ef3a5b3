package main

// The `connections` command: this process's own TCP sockets, /proc/self/fd socket inodes joined
// with /proc/self/net/tcp{,6} (PROTOCOL.md §2), so the harness can see which connections the SDK
// keeps open.

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

var tcpStates = map[string]string{"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
	"0B": "CLOSING"}

// hexAddr decodes /proc's "0100007F:1F90" (each 32-bit word in host, little-endian, order).
func hexAddr(s string) (string, error) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(host)
	if err != nil {
		return "", err
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return "", err
	}
	ip := net.IP(raw)
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%s:%d", v4, p), nil // IPv4 and IPv4-mapped IPv6 are shown as IPv4
	}
	return fmt.Sprintf("[%s]:%d", ip, p), nil
}

func ownTCPSockets() []map[string]any {
	inodes := map[string]bool{}
	entries, _ := os.ReadDir("/proc/self/fd")
	for _, e := range entries {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[link[8:len(link)-1]] = true
		}
	}
	out := []map[string]any{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		rows := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, row := range rows[1:] {
			cols := strings.Fields(row)
			if len(cols) <= 9 || !inodes[cols[9]] {
				continue
			}
			local, err1 := hexAddr(cols[1])
			remote, err2 := hexAddr(cols[2])
			if err1 != nil || err2 != nil {
				continue
			}
			state, ok := tcpStates[cols[3]]
			if !ok {
				state = cols[3]
			}
			inode, _ := strconv.Atoi(cols[9])
			out = append(out, map[string]any{"local": local, "remote": remote, "state": state, "inode": inode})
		}
	}
	return out
}
