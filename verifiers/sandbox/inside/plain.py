"""The plain-data check applied to the values an assert compares (see ../testcode.py)."""


def plain_data_checker():
    """(check, NotPlain), built before the program runs; check(value) returns value as plain data.

    Plain data: builtin numbers, strings, bytes, None, ranges, classes, and lists, tuples, sets,
    frozensets, dicts (also OrderedDict, defaultdict) and deques of plain data. An instance of a
    subclass of one of these (a Counter, a namedtuple, an IntEnum, an int whose __eq__ always says
    True) is replaced by a copy of its builtin base made by C code alone, so the comparison uses
    the builtin's semantics. Anything else raises NotPlain. Everything the closure uses is bound
    here; exact types are compared by id, since `in` on a set of types would call a metaclass's
    __eq__/__hash__, which the program controls.
    """
    import _collections

    class NotPlain(Exception):
        pass

    _type, _id, _issubclass = type, id, issubclass
    _list, _tuple, _set, _frozenset, _dict = list, tuple, set, frozenset, dict
    _deque, _odict, _ddict = _collections.deque, _collections.OrderedDict, _collections.defaultdict
    dict_items, odict_items, list_copy, dict_copy = dict.items, _odict.items, list.copy, dict.copy
    tuple_getitem, whole = tuple.__getitem__, slice(None)
    leaf = frozenset(map(id, (int, float, complex, str, bytes, bytearray, bool, type(None), range, type(...), type)))
    ids = {name: id(cls) for name, cls in (("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset),
                                            ("dict", dict), ("odict", _odict), ("ddict", _ddict), ("deque", _deque))}
    id_list, id_tuple, id_set, id_frozenset = ids["list"], ids["tuple"], ids["set"], ids["frozenset"]
    id_dict, id_odict, id_ddict, id_deque = ids["dict"], ids["odict"], ids["ddict"], ids["deque"]
    scalar_copies = ((int, int.__int__), (float, float.__float__), (complex, complex.__complex__),
                     (str, str.__str__), (bytes, bytes.__bytes__), (bytearray, bytearray.copy))
    max_items, max_depth = 2_000_000, 200

    def check(value):
        memo = {}
        count = [0]

        def norm(v, depth):
            t = _type(v)
            tid = _id(t)
            if tid in leaf:
                return v
            key = _id(v)
            if key in memo:
                return memo[key]
            count[0] += 1
            if count[0] > max_items or depth > max_depth:
                raise NotPlain("a compared value is too large or too deeply nested to check")
            if tid == id_list:
                new = memo[key] = []
                new.extend([norm(x, depth + 1) for x in v])
            elif tid == id_tuple:
                new = memo[key] = _tuple([norm(x, depth + 1) for x in v])
            elif tid == id_set:
                new = memo[key] = _set([norm(x, depth + 1) for x in v])
            elif tid == id_frozenset:
                new = memo[key] = _frozenset([norm(x, depth + 1) for x in v])
            elif tid == id_dict or tid == id_ddict:
                new = memo[key] = {} if tid == id_dict else _ddict(v.default_factory)
                for k, item in _list(dict_items(v)):
                    new[norm(k, depth + 1)] = norm(item, depth + 1)
            elif tid == id_odict:
                new = memo[key] = _odict()
                for k, item in _list(odict_items(v)):
                    new[norm(k, depth + 1)] = norm(item, depth + 1)
            elif tid == id_deque:
                new = memo[key] = _deque(maxlen=v.maxlen)
                new.extend([norm(x, depth + 1) for x in _list(v)])
            else:
                for base, copy in scalar_copies:
                    if _issubclass(t, base):
                        return copy(v)
                if _issubclass(t, _list):
                    return norm(list_copy(v), depth)
                if _issubclass(t, _tuple):
                    return norm(tuple_getitem(v, whole), depth)
                if _issubclass(t, _dict):
                    return norm(dict_copy(v), depth)
                if _issubclass(t, _frozenset):
                    return norm(_frozenset(v), depth)
                if _issubclass(t, _set):
                    return norm(_set(v), depth)
                raise NotPlain(f"a compared value of type {t.__name__!s} is not plain data (only builtin numbers, "
                               "strings, bytes, None and lists/tuples/sets/dicts of them count)")
            return new

        return norm(value, 0)

    return check, NotPlain
