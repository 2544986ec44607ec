package io.vmguard.interference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SchedSamplerTest {
    @Test
    void theSampleRunsUntilTheStopFileAndGroupsThisProcesssThreadsByRole(@TempDir Path dir) throws Exception {
        Path stop = dir.resolve("stop");
        Path out = dir.resolve("sched.json");
        CountDownLatch done = new CountDownLatch(1);
        Thread spinner = Thread.ofPlatform().name("vcpu3").start(() -> {
            while (done.getCount() > 0) {
                Thread.onSpinWait();
            }
        });
        awaitHostName("vcpu3"); // a thread the first reading sees under another name counts as born later
        Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(2000);
                Files.createFile(stop);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Map<String, Long> pids = new LinkedHashMap<>();
        pids.put("self", ProcessHandle.current().pid());
        pids.put("gone", Long.MAX_VALUE / 2); // no such process: left out, not an error
        long start = System.nanoTime();
        try {
            SchedSampler.run(pids, stop, Duration.ofSeconds(60), out);
        } finally {
            done.countDown();
            spinner.join();
        }
        assertTrue(System.nanoTime() - start < 30_000_000_000L, "stopped at the stop file, not at the limit");
        JsonNode json = new ObjectMapper().readTree(out.toFile());
        assertTrue(json.path("seconds").asDouble() >= SchedSampler.PERIOD.toMillis() / 1000.0, json.toString());
        assertFalse(json.path("processes").has("gone"));
        JsonNode self = json.path("processes").path("self");
        assertEquals(ProcessHandle.current().pid(), self.path("pid").asLong());
        assertTrue(self.path("by_role").path("vcpu").path("run_ms").asDouble() > 0, self.toString());
        assertTrue(self.path("by_role").path("other").path("timeslices").asLong() > 0, self.toString());
        boolean named = false;
        for (JsonNode thread : self.path("threads")) {
            named |= thread.path("name").asText().equals("vcpu3") && thread.path("role").asText().equals("vcpu");
        }
        assertTrue(named, "the spinner is listed by its name and role: " + self.path("threads"));
    }

    /** Waits until one of this process's threads carries {@code name} in /proc (a new thread names itself). */
    private static void awaitHostName(String name) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (io.vmguard.sched.ProcTasks.list(ProcessHandle.current().pid()).stream().noneMatch(t -> t.name().equals(name))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no thread of this process is called " + name + " in /proc");
            }
            Thread.sleep(10);
        }
    }

    @Test
    void badArgumentsAreOneLineErrors(@TempDir Path dir) {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int status;
        try {
            status = Main.execute("sched-sample", "--pid", "a=notanumber", "--stop-file", dir.resolve("s").toString(),
                    "--out", dir.resolve("o").toString());
        } finally {
            System.setErr(saved);
        }
        assertEquals(1, status);
        assertEquals("vmguard: --pid takes NAME=PID, not 'a=notanumber'\n", err.toString(StandardCharsets.UTF_8));
    }
}
