package io.vmguard.interference;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The measured VM's console output (guest script interference-client), read into figures per round: ping
 * round-trip times, the TCP stream's rate, netrr's transactions per second and median transaction time.
 * Lines outside IFX-START..IFX-END and lines of no known shape are ignored; a figure that does not parse is
 * left out, so a garbled line costs one sample, not the report.
 */
public record ClientLog(List<Round> rounds, boolean complete) {
    /** One round's figures. */
    public record Round(List<Double> rttMs, List<Double> tcpMBs, List<Double> rrTps, List<Double> rrMedianUs) {}

    private static final Pattern PING = Pattern.compile("seq=\\d+ ttl=\\d+ time=([0-9.]+) ms");
    private static final Pattern TCP = Pattern.compile("^ifx-tcp: \\d+ bytes in [0-9.]+ s = ([0-9.]+) MB/s");
    private static final Pattern RR = Pattern.compile("^netrr: \\d+ transactions in [0-9.]+ s = ([0-9.]+) tps, latency us min [0-9.]+ median ([0-9.]+)");
    /** No guest prints more rounds than this worth reading. */
    static final int MAX_ROUNDS = 1000;

    public static ClientLog parse(List<String> lines) {
        List<Round> rounds = new ArrayList<>();
        boolean started = false;
        boolean ended = false;
        Round round = null;
        for (String raw : lines) {
            String line = raw.strip();
            if (line.equals("IFX-START")) {
                started = true;
                continue;
            }
            if (!started || ended) {
                continue;
            }
            if (line.equals("IFX-END")) {
                ended = true;
            } else if (line.startsWith("ifx-round:")) {
                if (rounds.size() >= MAX_ROUNDS) {
                    break;
                }
                round = new Round(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
                rounds.add(round);
            } else if (round != null) {
                Matcher m;
                if ((m = PING.matcher(line)).find()) {
                    round.rttMs().add(Double.parseDouble(m.group(1)));
                } else if ((m = TCP.matcher(line)).find()) {
                    round.tcpMBs().add(Double.parseDouble(m.group(1)));
                } else if ((m = RR.matcher(line)).find()) {
                    round.rrTps().add(Double.parseDouble(m.group(1)));
                    round.rrMedianUs().add(Double.parseDouble(m.group(2)));
                }
            }
        }
        return new ClientLog(List.copyOf(rounds), ended);
    }

    public List<Double> allRtts() {
        return rounds.stream().flatMap(r -> r.rttMs().stream()).toList();
    }
}
