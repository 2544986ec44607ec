package io.vmguard.vmm;

import io.vmguard.devices.e1000.E1000;
import io.vmguard.devices.e1000.E1000Counters;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetException;
import io.vmguard.net.NetModel;
import io.vmguard.net.NetSpec;
import io.vmguard.pci.PciAddress;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;

/**
 * The VM's emulated network cards: one e1000 on PCI for every {@code model=e1000} backend, after the
 * virtio devices, each with the DMA door of its slot (so the IOMMU, when on, translates for it like for
 * any other endpoint). Named {@code e1000-0}, {@code e1000-1}, ... in the order of the configuration.
 *
 * <p>Snapshot tree: {@code cards[]: {name, card {...}}}, written only when there are cards, so a VM without
 * any reads snapshots of older vmguard builds. Pause, resume and close go to every card.
 */
final class EmulatedNics implements AutoCloseable, Snapshottable {
    private record Card(String name, E1000 device) {}

    private final List<Card> cards = new ArrayList<>();

    /** Adds a card for every e1000 spec in {@code nets}; fails with a one-line message on a backend that cannot open. */
    void attach(List<NetSpec> nets, PciRoot pci, DmaDoors doors) throws VmException {
        for (NetSpec spec : nets) {
            if (spec.model() != NetModel.E1000) {
                continue;
            }
            String name = "e1000-" + cards.size();
            PciAddress at = pci.nextAddress().orElseThrow(() -> new VmException("cannot put " + name + " on PCI: the bus is full"));
            NetBackend backend;
            try {
                backend = NetBackend.open(spec);
            } catch (NetException e) {
                throw new VmException(e.getMessage(), e);
            }
            MacAddress mac = spec.mac().orElseGet(() -> MacAddress.generate(new SecureRandom()));
            E1000 card = new E1000(doors.forPci(at, name), backend, mac, name);
            cards.add(new Card(name, card));
            try {
                pci.add(card);
            } catch (IllegalStateException e) {
                throw new VmException("cannot put " + name + " on PCI: " + e.getMessage(), e);
            }
        }
    }

    /** Each card's counters by name. */
    SequencedMap<String, E1000Counters> counters() {
        SequencedMap<String, E1000Counters> counters = new LinkedHashMap<>();
        for (Card card : cards) {
            counters.put(card.name(), card.device().counters());
        }
        return counters;
    }

    boolean isEmpty() {
        return cards.isEmpty();
    }

    void pause() {
        cards.forEach(card -> card.device().pause());
    }

    void resume() {
        cards.forEach(card -> card.device().resume());
    }

    @Override
    public void saveState(StateWriter out) {
        for (Card card : cards) {
            out.append("cards").putString("name", card.name()).save("card", card.device());
        }
    }

    /** As {@link #restoreState(StateReader, Map)} with every card keeping its snapshot's MAC. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        restoreState(in, Map.of());
    }

    /** Restores every card and leaves it paused; one in {@code macs} (by e1000 card index) takes that MAC instead of the snapshot's. */
    void restoreState(StateReader in, Map<Integer, MacAddress> macs) throws SnapshotException {
        pause(); // nothing of the fresh cards may run while their state changes under them; start() resumes them
        List<StateReader> saved = in.list("cards", cards.size());
        if (saved.size() != cards.size()) {
            throw new SnapshotException("snapshot field " + in.path() + ".cards has " + saved.size() + " entries, but this VM has "
                    + cards.size() + " e1000 cards");
        }
        for (int i = 0; i < saved.size(); i++) {
            String name = saved.get(i).getString("name");
            if (!name.equals(cards.get(i).name())) {
                throw new SnapshotException("snapshot field " + saved.get(i).path() + ".name is " + name + ", expected "
                        + cards.get(i).name());
            }
            if (macs.get(i) instanceof MacAddress mac) {
                cards.get(i).device().useMacOnRestore(mac);
            }
            saved.get(i).restore("card", cards.get(i).device());
        }
    }

    @Override
    public void close() {
        cards.forEach(card -> card.device().close());
    }
}
