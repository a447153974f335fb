# The helper's layers (issue 11): `make loc` prints lines of code per layer;
# check-layers proves from the objects' symbols (nm) that there is no cycle and
# that no layer uses a higher one; check-format holds every C file to .clang-format.
.PHONY: loc check-layers
loc:
	@tests/layers.sh loc

check-layers: $(HELPER_OBJS) $(PROTO_OBJS)
	@tests/layers.sh check $(HELPER_OBJS) $(PROTO_OBJS)

CHECK_STAGES += check-layers
