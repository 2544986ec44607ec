package io.vmguard.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NetSpecTest {
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");

    @Test
    void readsSocketSpecs() {
        assertEquals(new NetSpec.Socket(Path.of("/run/vm1.sock"), Path.of("/run/vm2.sock"), Optional.empty()),
                NetSpec.parse("socket:/run/vm1.sock,/run/vm2.sock"));
        assertEquals(new NetSpec.Socket(Path.of("a.sock"), Path.of("b.sock"), Optional.of(MAC)),
                NetSpec.parse("socket:a.sock,b.sock,mac=52:54:00:12:34:56"));
        assertEquals(new NetSpec.Socket(Path.of("/tmp/a=b"), Path.of("/tmp/c"), Optional.empty()),
                NetSpec.parse("socket:/tmp/a=b,/tmp/c"), "paths are positional, so '=' in a path is no option");
    }

    @Test
    void readsTapSpecs() {
        assertEquals(new NetSpec.Tap("vmgtap0", Optional.empty()), NetSpec.parse("tap:vmgtap0"));
        assertEquals(new NetSpec.Tap("tap-1.x_y", Optional.of(MAC)), NetSpec.parse("tap:tap-1.x_y,mac=52:54:00:12:34:56"));
        assertEquals(Optional.of(MAC), NetSpec.parse("tap:t0,mac=52:54:00:12:34:56").mac());
    }

    @Test
    void rejectsMalformedSpecsWithOneLineEach() {
        assertRejected("", "network backend must be socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=virtio|e1000] or tap:IFNAME[,mac=MAC][,model=virtio|e1000], not ''");
        assertRejected("vde:/tmp/x", "network backend must be socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=virtio|e1000] or tap:IFNAME[,mac=MAC][,model=virtio|e1000], not 'vde:/tmp/x'");
        assertRejected("tap0", "network backend must be socket:LOCAL_PATH,PEER_PATH[,mac=MAC][,model=virtio|e1000] or tap:IFNAME[,mac=MAC][,model=virtio|e1000], not 'tap0'");
        assertRejected("socket:", "'socket:' needs two paths: socket:LOCAL_PATH,PEER_PATH[,mac=MAC]");
        assertRejected("socket:a.sock", "'socket:a.sock' needs two paths: socket:LOCAL_PATH,PEER_PATH[,mac=MAC]");
        assertRejected("socket:,b", "LOCAL_PATH is empty in 'socket:,b'");
        assertRejected("socket:a,", "PEER_PATH is empty in 'socket:a,'");
        assertRejected("socket:/tmp/a,/tmp/../tmp/a", "LOCAL_PATH and PEER_PATH are the same file in 'socket:/tmp/a,/tmp/../tmp/a'");
        String longPath = "/" + "x".repeat(107);
        assertRejected("socket:" + longPath + ",b", "socket path '" + longPath + "' is 108 bytes; the limit is 107");
        assertRejected("socket:a,b,mtu=9000", "unknown option 'mtu=9000' in 'socket:a,b,mtu=9000': the options are mac=MAC and model=virtio|e1000");
        assertRejected("socket:a,b,c", "unknown option 'c' in 'socket:a,b,c': the options are mac=MAC and model=virtio|e1000");
        assertRejected("socket:a,b,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57",
                "mac given twice in 'socket:a,b,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57'");
        assertRejected("socket:a,b,mac=nope", "bad MAC address 'nope': write six hex bytes like 52:54:00:12:34:56");
        assertRejected("tap:t0,mac=01:00:00:00:00:01",
                "MAC address 01:00:00:00:00:01 is multicast; a network card needs a unicast address (even first byte)");
        assertRejected("tap:", "bad interface name '': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:a/b", "bad interface name 'a/b': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:a:b", "bad interface name 'a:b': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:a b", "bad interface name 'a b': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:..", "bad interface name '..': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:" + "x".repeat(16), "bad interface name '" + "x".repeat(16) + "': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:" + "é".repeat(8), "bad interface name '" + "é".repeat(8) + "': 1 to 15 bytes, no '/', ':' or white space");
        assertRejected("tap:t0,", "unknown option '' in 'tap:t0,': the options are mac=MAC and model=virtio|e1000");
    }

    @Test
    void readsTheCardModelDefaultingToVirtio() {
        assertEquals(NetModel.VIRTIO, NetSpec.parse("socket:a,b").model());
        assertEquals(new NetSpec.Socket(Path.of("a"), Path.of("b"), Optional.of(MAC), NetModel.E1000),
                NetSpec.parse("socket:a,b,model=e1000,mac=52:54:00:12:34:56"));
        assertEquals(new NetSpec.Tap("t0", Optional.empty(), NetModel.E1000), NetSpec.parse("tap:t0,model=e1000"));
        assertEquals(NetModel.VIRTIO, NetSpec.parse("tap:t0,model=virtio").model());
        assertEquals(NetModel.E1000, NetSpec.parse("tap:t0").withModel(NetModel.E1000).model());
        assertRejected("tap:t0,model=rtl8139", "network card model must be virtio or e1000, not 'rtl8139'");
        assertRejected("tap:t0,model=e1000,model=e1000", "model given twice in 'tap:t0,model=e1000,model=e1000'");
    }

    @Test
    void acceptsTheLongestNamesTheKernelTakes() {
        assertEquals("x".repeat(15), ((NetSpec.Tap) NetSpec.parse("tap:" + "x".repeat(15))).name());
        String path = "/" + "x".repeat(106);
        assertEquals(Path.of(path), ((NetSpec.Socket) NetSpec.parse("socket:" + path + ",b")).local());
    }

    private static void assertRejected(String spec, String message) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, () -> NetSpec.parse(spec), spec).getMessage());
    }
}
