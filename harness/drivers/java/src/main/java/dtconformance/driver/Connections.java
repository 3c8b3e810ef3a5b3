package dtconformance.driver;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The driver process's own TCP sockets (command {@code connections}): the socket inodes of /proc/self/fd
 * joined with /proc/self/net/tcp and tcp6, as the Python driver reads them.
 */
final class Connections {
    private static final String[] STATES = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
        "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"};

    private Connections() {
    }

    static List<Map<String, Object>> own() throws IOException {
        Set<String> inodes = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Paths.get("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        inodes.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException e) {
                    // closed between listing and reading: not ours any more
                }
            }
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (String table : new String[] {"/proc/self/net/tcp", "/proc/self/net/tcp6"}) {
            List<String> rows;
            try {
                rows = Files.readAllLines(Paths.get(table));
            } catch (IOException e) {
                continue; // no IPv6 in this kernel, say
            }
            for (String row : rows.subList(Math.min(1, rows.size()), rows.size())) {
                String[] cols = row.trim().split("\\s+");
                if (cols.length > 9 && inodes.contains(cols[9])) {
                    int st = Integer.parseInt(cols[3], 16);
                    out.add(Protocol.map("local", hexAddr(cols[1]), "remote", hexAddr(cols[2]),
                            "state", st < STATES.length ? STATES[st] : cols[3], "inode", Long.parseLong(cols[9])));
                }
            }
        }
        return out;
    }

    /** "0100007F:1F90" -> "127.0.0.1:8080"; IPv4-mapped IPv6 as IPv4, IPv6 as "[addr]:port". */
    static String hexAddr(String s) {
        String[] hp = s.split(":");
        byte[] raw = new byte[hp[0].length() / 2];
        for (int i = 0; i < raw.length; i++) {
            raw[i] = (byte) Integer.parseInt(hp[0].substring(2 * i, 2 * i + 2), 16);
        }
        // /proc prints each 32-bit word in host (little-endian) order.
        for (int w = 0; w < raw.length; w += 4) {
            for (int i = 0; i < 2; i++) {
                byte b = raw[w + i];
                raw[w + i] = raw[w + 3 - i];
                raw[w + 3 - i] = b;
            }
        }
        int port = Integer.parseInt(hp[1], 16);
        try {
            // getByAddress turns an IPv4-mapped IPv6 address into an Inet4Address itself.
            InetAddress ip = InetAddress.getByAddress(raw);
            String text = ip.getHostAddress();
            return (ip instanceof java.net.Inet6Address ? "[" + compact(text) + "]" : text) + ":" + port;
        } catch (UnknownHostException e) {
            return s;
        }
    }

    /** Java prints IPv6 uncompressed (0:0:0:0:0:0:0:1); Python prints it compressed (::1). */
    private static String compact(String v6) {
        String best = null;
        String[] parts = v6.split(":");
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < parts.length; ) {
            if (parts[i].equals("0")) {
                int j = i;
                while (j < parts.length && parts[j].equals("0")) {
                    j++;
                }
                if (j - i > bestLen && j - i > 1) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        if (bestStart < 0) {
            return v6;
        }
        String head = String.join(":", java.util.Arrays.copyOfRange(parts, 0, bestStart));
        String tail = String.join(":", java.util.Arrays.copyOfRange(parts, bestStart + bestLen, parts.length));
        best = head + "::" + tail;
        return best;
    }
}
