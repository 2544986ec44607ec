package io.vmguard.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.sys.Libc;
import io.vmguard.testing.CHeaderCheck;
import io.vmguard.testing.CHeaderCheck.CStruct;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The network backends' struct layouts, ioctl number and the C library constants they use, against this
 * machine's C headers ({@link CHeaderCheck}); and the sizes pinned by hand for machines without gcc.
 */
class NetStructLayoutTest {
    private static final List<CStruct> STRUCTS = List.of(
            new CStruct("struct sockaddr_un", SockaddrUnLayout.LAYOUT, List.of()),
            new CStruct("struct pollfd", PollfdLayout.LAYOUT, List.of()),
            new CStruct("struct iovec", IovecLayout.LAYOUT, List.of()),
            new CStruct("struct ifreq", IfreqLayout.LAYOUT, List.of()),
            new CStruct("struct timeval", TimevalLayout.LAYOUT, List.of()));

    private static Map<String, Long> macros() {
        Map<String, Long> macros = new LinkedHashMap<>();
        macros.put("TUNSETIFF", TapBackend.TUNSETIFF);
        macros.put("IFF_TAP", (long) TapBackend.IFF_TAP);
        macros.put("IFF_NO_PI", (long) TapBackend.IFF_NO_PI);
        macros.put("IFNAMSIZ", (long) IfreqLayout.IFNAMSIZ);
        macros.put("sizeof(((struct sockaddr_un *) 0)->sun_path) - 1", (long) SockaddrUnLayout.MAX_PATH_BYTES);
        macros.put("S_IFMT", (long) SocketFile.S_IFMT);
        macros.put("S_IFSOCK", (long) SocketFile.S_IFSOCK);
        macros.put("AF_UNIX", (long) Libc.AF_UNIX);
        macros.put("SOCK_DGRAM", (long) Libc.SOCK_DGRAM);
        macros.put("SOCK_NONBLOCK", (long) Libc.SOCK_NONBLOCK);
        macros.put("SOCK_CLOEXEC", (long) Libc.SOCK_CLOEXEC);
        macros.put("MSG_TRUNC", (long) Libc.MSG_TRUNC);
        macros.put("MSG_DONTWAIT", (long) Libc.MSG_DONTWAIT);
        macros.put("MSG_NOSIGNAL", (long) Libc.MSG_NOSIGNAL);
        macros.put("SOL_SOCKET", (long) Libc.SOL_SOCKET);
        macros.put("SO_SNDTIMEO", (long) Libc.SO_SNDTIMEO);
        macros.put("POLLIN", (long) Libc.POLLIN);
        macros.put("POLLERR", (long) Libc.POLLERR);
        macros.put("POLLHUP", (long) Libc.POLLHUP);
        macros.put("POLLNVAL", (long) Libc.POLLNVAL);
        macros.put("EFD_NONBLOCK", (long) Libc.EFD_NONBLOCK);
        macros.put("EFD_CLOEXEC", (long) Libc.EFD_CLOEXEC);
        macros.put("O_RDWR", (long) Libc.O_RDWR);
        macros.put("O_NONBLOCK", (long) Libc.O_NONBLOCK);
        macros.put("O_CLOEXEC", (long) Libc.O_CLOEXEC);
        macros.put("EPERM", (long) Libc.EPERM);
        macros.put("ENOENT", (long) Libc.ENOENT);
        macros.put("EINTR", (long) Libc.EINTR);
        macros.put("EIO", (long) Libc.EIO);
        macros.put("ENXIO", (long) Libc.ENXIO);
        macros.put("EAGAIN", (long) Libc.EAGAIN);
        macros.put("ENOMEM", (long) Libc.ENOMEM);
        macros.put("EACCES", (long) Libc.EACCES);
        macros.put("EBUSY", (long) Libc.EBUSY);
        macros.put("ENODEV", (long) Libc.ENODEV);
        macros.put("ENOTDIR", (long) Libc.ENOTDIR);
        macros.put("EINVAL", (long) Libc.EINVAL);
        macros.put("EBADFD", (long) Libc.EBADFD);
        macros.put("EMSGSIZE", (long) Libc.EMSGSIZE);
        macros.put("EPROTOTYPE", (long) Libc.EPROTOTYPE);
        macros.put("EADDRINUSE", (long) Libc.EADDRINUSE);
        macros.put("ENOBUFS", (long) Libc.ENOBUFS);
        macros.put("ECONNREFUSED", (long) Libc.ECONNREFUSED);
        return macros;
    }

    @Test
    void layoutsIoctlAndConstantsMatchTheCHeaders() throws Exception {
        CHeaderCheck.assertMatchesC("net",
                List.of("errno.h", "fcntl.h", "poll.h", "sys/eventfd.h", "sys/socket.h", "sys/stat.h", "sys/time.h", "sys/uio.h",
                        "sys/un.h", "sys/ioctl.h", "net/if.h", "linux/if_tun.h"),
                STRUCTS, macros());
    }

    @Test
    void layoutSizesMatchTheValuesCheckedAgainstGlibcAndLinux61Headers() {
        assertEquals(List.of(110L, 8L, 16L, 40L, 16L), STRUCTS.stream().map(s -> s.layout().byteSize()).toList());
        assertEquals(8, IfreqLayout.LAYOUT.byteAlignment(), "struct ifmap in the union aligns ifreq to 8");
        assertEquals(0x400454caL, TapBackend.TUNSETIFF);
    }
}
