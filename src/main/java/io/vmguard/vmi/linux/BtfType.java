package io.vmguard.vmi.linux;

import java.util.List;

/**
 * One BTF type record, by kind (include/uapi/linux/btf.h, kinds 1..19). Type ids are positions in the type
 * section, 1-based; id 0 is void. Names are resolved from the string section.
 */
public sealed interface BtfType {
    /** The type's name, empty for anonymous types and for kinds that have none. */
    default String name() {
        return "";
    }

    /** BTF_KIND_INT (1). @param encoding bit 0 signed, bit 1 char, bit 2 bool */
    record Int(String name, int size, int encoding, int bitOffset, int bits) implements BtfType {}

    /** BTF_KIND_PTR (2). */
    record Ptr(int type) implements BtfType {}

    /** BTF_KIND_ARRAY (3). */
    record Array(int elementType, int indexType, int length) implements BtfType {}

    /** STRUCT (4) and UNION (5). */
    sealed interface Composite extends BtfType permits Struct, Union {
        int size();

        List<Member> members();
    }

    record Struct(String name, int size, List<Member> members) implements Composite {}

    record Union(String name, int size, List<Member> members) implements Composite {}

    /**
     * A struct or union member; {@code bitOffset} from the start of the composite, {@code bitfieldSize} 0 for a
     * whole-type member.
     */
    record Member(String name, int type, long bitOffset, int bitfieldSize) {}

    /** BTF_KIND_ENUM (6), values sign- or zero-extended per {@code signed} (kflag). */
    record Enum(String name, int size, boolean signed, List<EnumValue> values) implements BtfType {}

    record EnumValue(String name, long value) {}

    /** BTF_KIND_FWD (7): a declared-only struct or union. */
    record Fwd(String name, boolean union) implements BtfType {}

    /** BTF_KIND_TYPEDEF (8). */
    record Typedef(String name, int type) implements BtfType {}

    /** BTF_KIND_VOLATILE (9). */
    record Volatile(int type) implements BtfType {}

    /** BTF_KIND_CONST (10). */
    record Const(int type) implements BtfType {}

    /** BTF_KIND_RESTRICT (11). */
    record Restrict(int type) implements BtfType {}

    /** BTF_KIND_FUNC (12): a function of prototype {@code type}; linkage 0 static, 1 global, 2 extern. */
    record Func(String name, int type, int linkage) implements BtfType {}

    /** BTF_KIND_FUNC_PROTO (13). */
    record FuncProto(int returnType, List<Parameter> parameters) implements BtfType {}

    record Parameter(String name, int type) {}

    /** BTF_KIND_VAR (14). */
    record Var(String name, int type, int linkage) implements BtfType {}

    /** BTF_KIND_DATASEC (15): variables of one ELF section with their offsets in it. */
    record DataSec(String name, int size, List<SectionVariable> variables) implements BtfType {}

    record SectionVariable(int type, long offset, int size) {}

    /** BTF_KIND_FLOAT (16). */
    record Float(String name, int size) implements BtfType {}

    /** BTF_KIND_DECL_TAG (17): {@code componentIndex} -1 tags the type itself, else a member or parameter. */
    record DeclTag(String name, int type, int componentIndex) implements BtfType {}

    /** BTF_KIND_TYPE_TAG (18). */
    record TypeTag(String name, int type) implements BtfType {}

    /** BTF_KIND_ENUM64 (19). */
    record Enum64(String name, int size, boolean signed, List<EnumValue> values) implements BtfType {}
}
